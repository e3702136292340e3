"""The deploy stage: install the overlay package on the target, atomically; and roll back.

Protocol: upload every file into staging/<version>/ on the target; compute every sha256 there
and compare with the host's manifest; run the staged runtime's ``check`` (manifest, engines,
weights: the package runs there); then switch ``current`` to it by one rename, keeping the
version before as ``previous``. A failure at any step leaves ``current`` as it was, and a rerun
starts the upload afresh (a version already installed is only verified and switched to). The
receipt in the workflow's artifacts records target, package hash, time and the previous version
(never a key or password).
"""

from __future__ import annotations

import errno
import json
from datetime import datetime, timezone
from pathlib import Path

from grace_flow.deploy.targets import (CommandFailed, Target, TargetError, on_target,
                                       show_note)
from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_write_text
from grace_flow.progress import progress
from grace_flow.runtime.package import MANIFEST, PackageError, package_hash, verify_manifest

_BLOCK = 4096  # files occupy whole blocks on the target's filesystem


class DeployError(FlowError):
    """A deployment that did not happen; the previous one is untouched."""


def version_of(package: str) -> str:
    """The folder name of a package on the target: 16 hex digits of its hash."""
    return package[:16]


def _upload(target: Target, folder: Path, names: list[str], version: str) -> None:
    sizes = [(folder / name).stat().st_size for name in names]
    bar = progress(total=sum(sizes), desc="upload", unit="B", unit_scale=True)
    with bar:
        for sent, name in enumerate(names):
            try:
                target.put(folder / name, f"staging/{version}/{name}", bar.update)
            except (OSError, EOFError, TargetError) as err:
                where = f"while uploading {name} ({sent} of {len(names)} files sent)"
                raise _upload_error(target, version, where, sum(sizes[sent:]), err) from None


def _upload_error(target: Target, version: str, where: str, remaining: int,
                  err: BaseException) -> DeployError:
    """Name why an upload failed (connection, full disk, other); remove the partial upload."""
    untouched = "the previous deployment is untouched"
    if not target.connected:
        return DeployError(f"deploy: {target.description}: connection lost {where}; {untouched}, "
                           "rerun doit deploy")
    full = getattr(err, "errno", None) == errno.ENOSPC
    try:  # SFTP reports a full disk as a bare "Failure": ask the target how much space is left
        free = target.op("status")["free_bytes"]
        full = full or free < remaining
        target.op("discard", version)
    except TargetError:
        free = None
    if full:
        left = f"{free >> 10} KB free, {-(-remaining >> 10)} KB still to send" if free is not None \
            else "no space left"
        return DeployError(f"deploy: {target.description}: the target's disk is full ({left} "
                           f"under {target.root}) {where}; free space there and rerun doit "
                           f"deploy; {untouched}")
    return DeployError(f"deploy: {target.description}: upload failed {where} ({err}); "
                       f"{untouched}, rerun doit deploy")


def _verify_on_target(target: Target, folder: str, manifest: dict, package: str) -> None:
    """Compare the sha256 computed on the target with the host's manifest (and its hash)."""
    found = target.op("hashes", folder)["files"]
    want = {**manifest["files"], MANIFEST: package}
    for name in sorted(want):
        if found.get(name) != want[name]:
            what = "is missing" if name not in found else "arrived damaged (its sha256 there " \
                                                          "differs from the manifest's)"
            raise DeployError(f"deploy: {target.description}: {name} {what}; nothing was "
                              "switched, rerun doit deploy (if it repeats, check the board's "
                              "storage)")
    extra = sorted(set(found) - set(want))
    if extra:
        raise DeployError(f"deploy: {target.description}: {folder} holds {extra[0]}, which is "
                          "not in the package; nothing was switched, rerun doit deploy")


def _check_runs(target: Target, folder: str) -> dict:
    """The staged runtime opens its package there (engines built for the target if needed)."""
    try:
        return target.runtime(folder, "check", "--cache", f"{target.root}/cache",
                              on_line=lambda line: show_note(target, line))
    except CommandFailed as failed:
        raise DeployError(f"deploy: {target.description}: the package does not run there: "
                          f"{failed.reason}; nothing was switched") from None


def _receipt(path: Path, target: Target, package: str, status: dict, action: str,
             runtime: dict | None) -> dict:
    receipt = {
        "target": target.description,
        "package": package,
        "version": status["current"],
        "previous": status["previous"],
        "action": action,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host_key": getattr(target, "host_key", None),
        "runtime": runtime,
    }
    atomic_write_text(path, json.dumps(receipt, indent=1) + "\n")
    return receipt


def deploy_package(target: Target, overlay_dir: Path, receipt_path: Path) -> dict:
    """Install the package in ``overlay_dir`` on ``target`` as its current version."""
    overlay_dir = Path(overlay_dir)
    try:  # a damaged package is refused before anything is sent
        manifest = verify_manifest(overlay_dir)
    except PackageError as err:
        raise DeployError(f"deploy: {err}") from None
    package = package_hash(overlay_dir)
    version = version_of(package)
    status = target.op("status")
    if status["current"] == version:
        _verify_on_target(target, f"versions/{version}", manifest, package)
        return _receipt(receipt_path, target, package, status, "already current", None)
    if version in status["versions"]:
        folder = f"versions/{version}"
    else:
        names = sorted([*manifest["files"], MANIFEST])
        needed = sum(-(-(overlay_dir / n).stat().st_size // _BLOCK) * _BLOCK for n in names)
        try:
            target.op("prepare", version, str(needed))
        except CommandFailed as failed:
            raise DeployError(f"deploy: {target.description}: {failed.reason}; free space there "
                              "and rerun doit deploy; the previous deployment is untouched"
                              ) from None
        folder = f"staging/{version}"
        _upload(target, overlay_dir, names, version)
    try:
        _verify_on_target(target, folder, manifest, package)
        runtime = _check_runs(target, folder)
    except DeployError:
        if folder.startswith("staging/"):
            target.op("discard", version)  # a damaged or unrunnable upload is not kept
        raise
    status = target.op("switch", version)
    return _receipt(receipt_path, target, package, status, "deployed", runtime)


def rollback_package(target: Target, receipt_path: Path) -> dict:
    """Make the target's previous version current again (and the current one previous)."""
    try:
        status = target.op("rollback")
    except CommandFailed as failed:
        raise DeployError(f"rollback: {target.description}: {failed.reason}") from None
    folder = f"versions/{status['current']}"
    package = target.op("hashes", folder)["files"][MANIFEST]
    runtime = _check_runs(target, folder)
    return _receipt(receipt_path, target, package, status, "rolled back", runtime)


def deploy_overlay(overlay_dir: Path, receipt_path: Path, *, settings: dict, emulator_dir: Path,
                   base_dir: Path) -> dict:
    """The deploy task: the overlay package onto the target of ``settings`` (deploy:)."""
    return on_target(lambda target: deploy_package(target, overlay_dir, receipt_path),
                     settings, emulator_dir, base_dir, "deploy", DeployError)


def rollback(receipt_path: Path, *, settings: dict, emulator_dir: Path, base_dir: Path) -> dict:
    """The rollback task: the target's previous version back in place; the receipt rewritten."""
    return on_target(lambda target: rollback_package(target, receipt_path),
                     settings, emulator_dir, base_dir, "rollback", DeployError)
