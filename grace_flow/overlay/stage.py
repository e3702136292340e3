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
    program_dir: Path,
    csim_reports: dict[str, Path],
    build_dir: Path,
    system_report: Path,
    workflow_hash: str,
) -> Path:
    """Package program, weights and the engines (bitstream + .hwh, or C-sim libraries)."""
    from grace_flow.overlay.package import package_overlay

    system = json.loads(Path(system_report).read_text())
    toolchain = system["toolchain"]
    versions = {"python": platform.python_version(), "g++": _gxx_version()}
    for engine, record in system["engines"].items():
        versions[f"{engine}:{record['tool']}"] = str(record["tool_version"])
    program_dir = Path(program_dir)
    common = {
        "program_bin": program_dir / "program.bin",
        "program_json": program_dir / "program.json",
        "weights_bin": program_dir / "weights.bin",
        "workflow_hash": workflow_hash,
        "versions": versions,
    }
    if toolchain == "vitis":
        outputs = system["implementation"]["outputs"]
        workdir = Path(system_report).parent / "system"
        return package_overlay(
            out_dir,
            toolchain=toolchain,
            bitstream=workdir / outputs["bitstream"],
            hwh=workdir / outputs["hwh"],
            **common,
        )
    libraries = {
        engine: Path(build_dir) / json.loads(Path(report).read_text())["library"]
        for engine, report in csim_reports.items()
    }
    return package_overlay(out_dir, toolchain="emulated", engine_libs=libraries, **common)
