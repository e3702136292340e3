"""The overlay stage: everything the board (or the emulator) needs, in one verified package."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path


def _gxx_version() -> str:
    out = subprocess.run(["g++", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.returncode == 0 and out.stdout else "unknown"


def build_overlay(
    out_dir: Path,
    *,
    program_bin: Path,
    program_json: Path,
    weights_bin: Path,
    system_report: Path,
    workflow_hash: str,
    engine_sources: dict[str, Path],
    libraries: dict[str, Path] | None = None,
    bitstream: Path | None = None,
    hwh: Path | None = None,
) -> Path:
    """Package program, weights, the engines (the bitstream + .hwh of a vitis build, or the
    emulated engines' C-sim ``libraries``) with their C++ sources (``engine_sources``: engine ->
    folder), and the board-side runtime."""
    from grace_flow.csim.build import build_info
    from grace_flow.overlay.package import package_overlay
    from grace_flow.overlay.runtime_files import runtime_files

    system = json.loads(Path(system_report).read_text())
    versions = {"python": platform.python_version(), "g++": _gxx_version()}
    for engine, record in system["engines"].items():
        versions[f"{engine}:{record['tool']}"] = str(record["tool_version"])
    common = {
        "program_bin": program_bin,
        "program_json": program_json,
        "weights_bin": weights_bin,
        "workflow_hash": workflow_hash,
        "versions": versions,
        "engine_sources": engine_sources,
        "build": build_info(),
        "runtime": runtime_files(),
    }
    if system["toolchain"] == "vitis":
        return package_overlay(out_dir, toolchain="vitis", bitstream=bitstream, hwh=hwh, **common)
    return package_overlay(out_dir, toolchain="emulated", engine_libs=libraries, **common)
