"""The overlay package: one folder holding everything the board needs, with a hashed manifest.

Contents: the bitstream and .hwh (vitis toolchain) or the emulated overlay (engine .so libraries
and a register map in the .hwh's role), program.bin / program.json, weights.bin,
register_map.json and manifest.json (sha256 of every other file, workflow hash, git commit and
dirty flag, toolchain and tool versions). The folder is built beside its target and renamed
into place, so a reader sees the old package or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from grace_flow.errors import FlowError
from grace_flow.provenance import git_state
from grace_flow.fsutil import atomic_write_text
from grace_flow.engines.registers import REGISTERS

MANIFEST = "manifest.json"
REGISTER_MAP = "register_map.json"
#: Emulated overlay: engine i's register window starts at EMULATED_BASE + i × EMULATED_STRIDE,
#: registers 4 bytes apart in table order (the C-sim regs array).
EMULATED_BASE, EMULATED_STRIDE = 0x4000_0000, 0x1_0000


def package_files(toolchain: str, engines: list[str]) -> list[str]:
    """Every file of a package for ``toolchain`` with ``engines`` (paths inside the folder)."""
    if toolchain == "vitis":
        hardware = ["overlay.bit", "overlay.hwh"]
    else:
        hardware = [f"engines/{engine}.so" for engine in sorted(engines)]
    return sorted(["program.bin", "program.json", "weights.bin", *hardware, REGISTER_MAP,
                   MANIFEST])


class PackageError(FlowError):
    """An overlay package that is incomplete or does not match its manifest."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def register_map_from_hwh(hwh: str | Path) -> dict:
    """{ip name: {base, range, vlnv, registers: {name: offset}}} read by pynq's own parser."""
    from pynq.metadata.ip_dict_view import IpDictView
    from pynqmetadata.frontends import Metadata

    try:
        ips = IpDictView(Metadata(str(hwh)))
    except Exception as err:  # pynqmetadata raises bare errors on malformed handoff files
        raise PackageError(f"{hwh}: not a readable .hwh ({type(err).__name__}); "
                           "rebuild the overlay (doit synth:system)") from None
    result = {}
    for name in ips:
        ip = ips[name]
        if "phys_addr" not in ip:
            continue  # no AXI-Lite window (the PS, DMA-less stream IPs)
        result[name] = {
            "base": ip["phys_addr"],
            "range": ip["addr_range"],
            "vlnv": ip["type"],
            "registers": {reg: info["address_offset"]
                          for reg, info in ip.get("registers", {}).items()},
        }
    return result


def emulated_register_map(engines: list[str]) -> dict:
    """The register map of the emulated overlay: same shape as :func:`register_map_from_hwh`."""
    order = list(REGISTERS)
    return {
        engine: {
            "base": EMULATED_BASE + order.index(engine) * EMULATED_STRIDE,
            "range": EMULATED_STRIDE,
            "vlnv": f"grace_flow:emulated:{engine}:1.0",
            "registers": {reg.name: 4 * i for i, reg in enumerate(REGISTERS[engine])},
        }
        for engine in engines
    }


def package_overlay(folder: str | Path, *, toolchain: str, program_bin: Path, program_json: Path,
                    weights_bin: Path, workflow_hash: str, versions: dict[str, str],
                    bitstream: Path | None = None, hwh: Path | None = None,
                    engine_libs: dict[str, Path] | None = None,
                    repo_dir: str | Path = ".") -> Path:
    """Build the package in ``folder`` (replacing it atomically) and return its path.

    vitis: ``bitstream`` and ``hwh`` are required, register_map.json comes from the .hwh.
    estimate/emulated: ``engine_libs`` (engine -> C-sim .so) are required instead.
    """
    folder = Path(folder)
    files = {"program.bin": program_bin, "program.json": program_json, "weights.bin": weights_bin}
    if toolchain == "vitis":
        if bitstream is None or hwh is None:
            raise PackageError(f"{folder}: the vitis overlay needs the bitstream and the .hwh; "
                               "run doit synth:system first")
        files |= {"overlay.bit": bitstream, "overlay.hwh": hwh}
        register_map = register_map_from_hwh(hwh)
    else:
        if not engine_libs:
            raise PackageError(f"{folder}: the emulated overlay needs the engine libraries; "
                               "run doit csim first")
        files |= {f"engines/{engine}.so": lib for engine, lib in sorted(engine_libs.items())}
        register_map = emulated_register_map(sorted(engine_libs))
    for name, source in files.items():
        if not Path(source).is_file():
            raise PackageError(f"{folder}: {name} source {source} is missing; rebuild it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{folder.name}.*"):  # what a killed build left behind
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        for name, source in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / name)
        atomic_write_text(staging / REGISTER_MAP, json.dumps(register_map, indent=1) + "\n")
        names = sorted([*files, REGISTER_MAP])
        manifest = {
            "files": {name: sha256_file(staging / name) for name in names},
            "workflow_hash": workflow_hash,
            "git": git_state(repo_dir),
            "toolchain": toolchain,
            "versions": dict(sorted(versions.items())),
        }
        atomic_write_text(staging / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        os.chmod(staging, 0o755)
        _swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _swap_in(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``; an old package is moved aside first, then deleted."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(staging, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def verify_manifest(folder: str | Path) -> dict:
    """Return the manifest after checking every file's sha256; the first difference (missing or
    changed file) is a one-line PackageError."""
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise PackageError(f"{path}: missing or unreadable manifest; rebuild the overlay "
                           "(doit overlay)") from None
    for name, expected in files.items():
        target = folder / name
        if not target.is_file():
            raise PackageError(f"{folder}: {name} is missing; rebuild the overlay (doit overlay)")
        if sha256_file(target) != expected:
            raise PackageError(f"{folder}: {name} does not match its sha256 in {MANIFEST}; "
                               "the package is damaged, rebuild or redeploy it")
    return manifest
