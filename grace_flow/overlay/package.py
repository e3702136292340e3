"""The overlay package: one folder holding everything the board needs, with a hashed manifest.

Contents: the bitstream and .hwh (vitis toolchain) or the emulated overlay (engine .so libraries
and a register map in the .hwh's role), program.bin / program.json, weights.bin,
register_map.json, every engine's C++ sources with engines.json (how they were built, so a target
the libraries do not fit can rebuild them), the board-side runtime (board.py and the grace_flow
sources it imports) and manifest.json (sha256 of every other file, workflow hash, git commit and
dirty flag, toolchain and tool versions). The folder is built beside its target and renamed
into place, so a reader sees the old package or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from grace_flow.fsutil import atomic_write_text
from grace_flow.provenance import git_state
from grace_flow.runtime.package import (BUILD_INFO, MANIFEST, REGISTER_MAP, PackageError,
                                        sha256_file, verify_manifest)

__all__ = ["PackageError", "package_files", "package_overlay", "register_map_from_hwh",
           "verify_manifest"]


def package_files(toolchain: str, engine_sources: dict[str, list[str]],
                  runtime: list[str]) -> list[str]:
    """Every file of a package for ``toolchain``: ``engine_sources`` (engine -> names of its
    C++ sources) and ``runtime`` (the runtime's package paths) as :func:`package_overlay`
    writes them."""
    hardware = (["overlay.bit", "overlay.hwh"] if toolchain == "vitis"
                else [f"engines/{engine}.so" for engine in engine_sources])
    sources = [f"engines/{engine}/{name}" for engine, names in engine_sources.items()
               for name in names]
    return sorted(["program.bin", "program.json", "weights.bin", *hardware, *sources, *runtime,
                   REGISTER_MAP, BUILD_INFO, MANIFEST])


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


def package_overlay(folder: str | Path, *, toolchain: str, program_bin: Path, program_json: Path,
                    weights_bin: Path, workflow_hash: str, versions: dict[str, str],
                    engine_sources: dict[str, Path], build: dict, runtime: dict[str, Path],
                    bitstream: Path | None = None, hwh: Path | None = None,
                    engine_libs: dict[str, Path] | None = None,
                    repo_dir: str | Path = ".") -> Path:
    """Build the package in ``folder`` (replacing it atomically) and return its path.

    ``engine_sources``: engine -> folder of its rendered C++ sources; ``build``: the ``compiler``
    version and ``flags`` the libraries were built with; ``runtime``: package path -> source file
    of the board-side runtime (overlay.runtime_files).
    vitis: ``bitstream`` and ``hwh`` are required, register_map.json comes from the .hwh.
    estimate/emulated: ``engine_libs`` (engine -> C-sim .so) are required instead.
    """
    folder = Path(folder)
    files = {"program.bin": program_bin, "program.json": program_json, "weights.bin": weights_bin,
             **runtime}
    for engine, sources in sorted(engine_sources.items()):
        files |= {f"engines/{engine}/{path.name}": path for path in sorted(Path(sources).iterdir())
                  if path.suffix in (".h", ".cpp")}
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
        # Imported here: it needs numpy, and the graph imports this module to list the files.
        from grace_flow.runtime.emulated import emulated_register_map

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
        build_info = {**build, "flags": list(build["flags"]), "engines": {
            engine: {"library": f"engines/{engine}.so" if engine_libs else None,
                     "sources": f"engines/{engine}"} for engine in sorted(engine_sources)}}
        atomic_write_text(staging / BUILD_INFO, json.dumps(build_info, indent=1) + "\n")
        names = sorted([*files, REGISTER_MAP, BUILD_INFO])
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
