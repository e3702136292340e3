"""Opening an overlay package on the target: manifest check, program, weights, hardware.

A package is one folder (built by the overlay stage): manifest.json (sha256 of every other file),
program.bin / program.json, weights.bin, register_map.json, engines.json with the engines' C++
sources, and either overlay.bit + overlay.hwh (a board) or the emulated engine libraries, plus
this runtime itself. ``open_package`` checks every hash, then loads the engines and writes the
weights into DDR once.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from grace_flow.engines.program import Program, decode
from grace_flow.errors import FlowError
from grace_flow.fsutil import sha256_file

if TYPE_CHECKING:
    from grace_flow.runtime.runner import ProgramRunner

MANIFEST = "manifest.json"
REGISTER_MAP = "register_map.json"
#: How the package's engine libraries were built (so a target they do not fit rebuilds them).
BUILD_INFO = "engines.json"
BACKENDS = ("auto", "pynq", "emulated")


class PackageError(FlowError):
    """An overlay package that is incomplete or does not match its manifest."""


def package_hash(folder: str | Path) -> str:
    """The package's identity: sha256 of its manifest (which holds every file's sha256)."""
    return sha256_file(Path(folder) / MANIFEST)


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


def load_program(folder: Path) -> Program:
    """program.json (instructions, tensors, I/O), checked against program.bin, what the engines
    run: every instruction's engine, phase, registers and dependencies must agree."""
    program = Program.load(folder / "program.json")
    binary = decode((folder / "program.bin").read_bytes(), str(folder / "program.bin"))
    same = (len(binary.instructions) == len(program.instructions)
            and binary.ddr_bytes == program.ddr_bytes
            and all(_same(listed, encoded) for listed, encoded in
                    zip(program.instructions, binary.instructions)))
    if not same:
        raise PackageError(f"{folder}: program.bin and program.json describe different programs; "
                           "rebuild the overlay (doit overlay)")
    return program


def _same(listed, encoded) -> bool:
    return (listed.engine == encoded.engine and listed.phase == encoded.phase
            and listed.deps == encoded.deps
            and all(listed.registers.get(name, 0) & 0xFFFFFFFF == value
                    for name, value in encoded.registers.items()))


def _hardware(folder: Path, program: Program, backend: str, cache_dir: Path,
              note: Callable[[str], None]) -> tuple[object, dict]:
    engines = sorted({ins.engine for ins in program.instructions})
    if backend == "auto":
        backend = "pynq" if (folder / "overlay.bit").is_file() and _has_pynq() else "emulated"
    if backend == "pynq":
        from grace_flow.runtime.pynq_hw import PynqHardware

        if not (folder / "overlay.bit").is_file():
            raise PackageError(f"{folder}: no overlay.bit: this package is emulated, run it with "
                               "--backend emulated")
        return PynqHardware(folder / "overlay.bit", program.ddr_bytes), {"backend": "pynq"}
    from grace_flow.runtime.emulated import EmulatedHardware
    from grace_flow.runtime.prebuilt import package_libraries

    libraries = package_libraries(folder, engines, cache_dir, note)
    register_map = json.loads((folder / REGISTER_MAP).read_text(encoding="utf-8"))
    hardware = EmulatedHardware(program.ddr_bytes, {e: lib for e, (lib, _) in libraries.items()},
                                register_map)
    return hardware, {"backend": "emulated",
                      "engines": {e: how for e, (_, how) in libraries.items()}}


def _has_pynq() -> bool:
    try:
        import pynq  # noqa: F401  (only the question whether this is a PYNQ image)
    except ImportError:
        return False
    return True


def open_package(folder: str | Path, *, backend: str = "auto", cache_dir: str | Path,
                 note: Callable[[str], None] = lambda text: None) -> tuple[ProgramRunner, dict]:
    """Verify the package in ``folder`` and load it on ``backend``: (runner, facts).

    ``auto`` is pynq on a PYNQ image with a bitstream in the package, else emulated. Emulated
    engines rebuilt for this target go to ``cache_dir``; ``note`` hears why. The facts say which
    package (its hash), backend, engines, Python and machine ran.
    """
    folder = Path(folder).resolve()
    if backend not in BACKENDS:
        raise PackageError(f"backend {backend!r} unknown; use one of {', '.join(BACKENDS)}")
    manifest = verify_manifest(folder)
    program = load_program(folder)
    hardware, facts = _hardware(folder, program, backend, Path(cache_dir), note)
    # Imported here: the runner needs numpy, and the host's graph reads this module's names.
    from grace_flow.runtime.runner import ProgramRunner

    runner = ProgramRunner(program, (folder / "weights.bin").read_bytes(), hardware)
    return runner, {"package": package_hash(folder), "workflow_hash": manifest["workflow_hash"],
                    **facts, "python": platform.python_version(), "machine": platform.machine()}
