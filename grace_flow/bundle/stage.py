"""`doit bundle`: one workflow's results and deployable package as one verifiable tar.gz.

The archive holds the workflow file, the reports, the test bitstreams, the HLS sources and the
overlay package, and ``bundle.json``: the sha256 of every other member and the provenance (git
commit and dirty flag, the inputs digest of the build, the toolchain). Members are written in
name order with fixed owners and times, so the same artifacts give the same bytes. A CI job
uploads it; :func:`verify_bundle` checks one wherever it lands.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path, PurePosixPath

from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_write_bytes
from grace_flow.provenance import git_state

MANIFEST = "bundle.json"


class BundleError(FlowError):
    """A bundle that cannot be written, read or does not match its manifest."""


def _member(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    return info, io.BytesIO(data)


def write_bundle(out_path: Path, *, files: dict[str, Path], built_from: str, toolchain: str,
                 workflow: str) -> dict:
    """Write ``files`` (name in the archive → file) and their manifest to ``out_path``; the
    provenance records the build's inputs digest, the toolchain, the workflow file and the git
    state of the checkout."""
    provenance = {"built_from": built_from, "toolchain": toolchain, "workflow": workflow,
                  "git": git_state(".")}
    contents = {}
    for name, path in sorted(files.items()):
        if not Path(path).is_file():
            raise BundleError(f"bundle: {path} is missing; run the flow first (doit)")
        contents[name] = Path(path).read_bytes()
    manifest = {"files": {name: hashlib.sha256(data).hexdigest()
                          for name, data in contents.items()},
                "provenance": provenance}
    contents[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    buffer = io.BytesIO()
    # mtime=0 in the gzip header and in every member: the same files, the same archive.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed:
        with tarfile.open(fileobj=packed, mode="w") as tar:
            for name in sorted(contents):
                tar.addfile(*_member(name, contents[name]))
    atomic_write_bytes(out_path, buffer.getvalue())
    return manifest


def verify_bundle(path: Path) -> dict:
    """The manifest of the bundle at ``path`` after checking every member's sha256; the first
    problem (an unsafe or unlisted member, a missing or changed file) is a one-line error."""
    path = Path(path)
    try:
        tar = tarfile.open(path, mode="r:gz")
    except (OSError, tarfile.TarError) as err:
        raise BundleError(f"{path}: not a readable bundle ({err}); download it again") from None
    with tar:
        members = {}
        for info in tar.getmembers():
            name = PurePosixPath(info.name)
            if not info.isfile() or name.is_absolute() or ".." in name.parts:
                raise BundleError(f"{path}: member {info.name!r} is not a plain relative file; "
                                  "refusing the bundle")
            members[info.name] = tar.extractfile(info).read()
    if MANIFEST not in members:
        raise BundleError(f"{path}: no {MANIFEST}; not a grace_flow bundle")
    manifest = json.loads(members.pop(MANIFEST))
    for name in sorted(set(members) | set(manifest["files"])):
        if name not in manifest["files"]:
            raise BundleError(f"{path}: {name} is not in {MANIFEST}; the bundle was altered")
        if name not in members:
            raise BundleError(f"{path}: {name} is listed in {MANIFEST} but missing")
        if hashlib.sha256(members[name]).hexdigest() != manifest["files"][name]:
            raise BundleError(f"{path}: {name} does not match its sha256 in {MANIFEST}; "
                              "the bundle is damaged, download it again")
    return manifest
