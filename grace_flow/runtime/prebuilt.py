"""The emulated engines of a package: its prebuilt libraries where they fit, else built here.

The overlay package carries each engine's C++ sources (engines/<engine>/) and engines.json (the
g++ flags and version they were built with, and the CPU target -march=native meant there); the
emulated overlay also carries the libraries built on the host (engines/<engine>.so). On a target
those do not fit (an ARM board, another machine type or CPU, a C++ runtime they do not load
against), the runtime builds the engine from the sources with the target's g++ and the same
flags, into a cache folder, and says so.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

from grace_flow.runtime.build import NATIVE, compile_library, compiler_version, native_target
from grace_flow.runtime.engines import EngineLibrary
from grace_flow.runtime.package import BUILD_INFO
_MACHINES = {3: "x86", 40: "ARM", 62: "x86-64", 183: "AArch64", 243: "RISC-V"}


def elf_target(path: Path) -> str:
    """'ELF <32|64>-bit <machine>' of an ELF file ('not ELF' for anything else)."""
    with open(path, "rb") as handle:
        head = handle.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return "not ELF"
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return f"ELF {32 * head[4]}-bit {_MACHINES.get(machine, f'machine {machine}')}"


def _misfit(library: Path | None, info: dict) -> str | None:
    """Why the prebuilt ``library`` (built as engines.json ``info`` says) cannot run here, or
    None when it can."""
    if library is None or not library.is_file():
        return "the package has no prebuilt library"
    here = elf_target(Path(os.path.realpath(sys.executable)))
    there = elf_target(library)
    if there != here:
        return f"the prebuilt {library.name} is {there}, this target {here}"
    if NATIVE in info["flags"] and info.get("target") != native_target():
        return f"the prebuilt {library.name} was built {NATIVE} for another CPU"
    return None


def package_libraries(folder: Path, engines, cache_dir: Path,
                      note: Callable[[str], None]) -> dict[str, tuple[EngineLibrary, str]]:
    """Each engine's library for the package in ``folder``: (library, how it was obtained)."""
    info = json.loads((Path(folder) / BUILD_INFO).read_text(encoding="utf-8"))
    result = {}
    for engine in sorted(set(engines)):
        entry = info["engines"][engine]
        prebuilt = Path(folder) / entry["library"] if entry.get("library") else None
        reason = _misfit(prebuilt, info)
        if reason is None:
            try:
                result[engine] = (EngineLibrary(prebuilt, engine), "prebuilt")
                continue
            except OSError as err:  # same machine type, but e.g. another C++ runtime
                reason = f"the prebuilt {prebuilt.name} does not load here ({err})"
        how = f"built on the target with g++ {compiler_version()} ({reason})"
        note(f"emulated {engine}: {reason}; building it from the package's C++ sources")
        path = compile_library(Path(folder) / entry["sources"], engine, cache_dir, info["flags"])
        result[engine] = (EngineLibrary(path, engine), how)
    return result
