"""The synth stage: per-engine reports (vitis or estimate), then the system: budget and frame model.

``synth:<engine>`` reads only the engine's spec and sources, so a new program that the engines
serve does not rerun it; ``synth:system`` sums the engines, checks them against the board
budget, and models the frame (latency, fps, bytes moved, energy) on the program.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_write_bytes, atomic_write_text
from grace_flow.toolrun import found_toolchain


class ToolchainError(FlowError):
    """A toolchain that cannot run here."""


def resolve_toolchain(toolchain: str) -> str:
    """``auto`` → :func:`found_toolchain`; vitis must be on PATH."""
    if toolchain == "auto":
        return found_toolchain()
    if toolchain == "vitis" and not shutil.which("vitis_hls"):
        raise ToolchainError("synth.toolchain: vitis needs vitis_hls on PATH: source the Vitis "
                             "settings64.sh or use toolchain: estimate")
    return toolchain


def _write(path: Path, record: dict) -> dict:
    atomic_write_text(path, json.dumps(record, indent=1, default=str) + "\n")
    return record


def _engine_build(engine: str, sources_dir: Path, board, clock_mhz: float):
    from grace_flow.synth.tcl import EngineBuild

    sources_dir = Path(sources_dir)
    return EngineBuild(name=engine, top=f"{engine}_top", sources=[sources_dir / f"{engine}_top.cpp"],
                       include_dirs=[sources_dir], clock_ns=board.clock_ns(clock_mhz))


def synth_engine_report(engine: str, spec_path: Path, sources_dir: Path, board_path: Path,
                        clock_mhz: float, toolchain: str, workdir: Path, report_path: Path) -> dict:
    """One engine's synthesis record (resources, clock; real csynth or estimate) → JSON."""
    from grace_flow.engines.spec import read_spec
    from grace_flow.perf.board import load_board

    board = load_board(board_path)
    spec = read_spec(engine, spec_path)
    if resolve_toolchain(toolchain) == "vitis":
        from grace_flow.synth.vitis import synth_engine

        record = synth_engine(_engine_build(engine, sources_dir, board, clock_mhz), board,
                              Path(workdir))
    else:
        from grace_flow.perf.estimate import estimate_engine

        record = estimate_engine(engine, spec, board, clock_mhz)
    return _write(Path(report_path), {"engine": engine, "spec": spec, **record})


def synth_system_report(engine_reports: dict[str, Path], specs: dict[str, Path],
                        program_json: Path, board_path: Path, report_path: Path, workdir: Path,
                        *, clock_mhz: float, margin: float, toolchain: str, pixels: int, gop: int,
                        ip_dirs: dict[str, Path] | None = None, bitstream: Path | None = None,
                        hwh: Path | None = None) -> dict:
    """Budget check of the engines on the board and the modeled frame (key-phase work amortised
    over a GOP of ``gop`` frames); write the system record.

    With vitis, the block design of the engines' IPs (exported in ``ip_dirs``) is built and
    implemented in ``workdir``, its real utilization, timing and power reports are recorded next
    to the model, and the bitstream and .hwh are copied to ``bitstream`` and ``hwh``.
    """
    from grace_flow.engines.program import Program
    from grace_flow.engines.spec import read_spec
    from grace_flow.perf.board import load_board
    from grace_flow.perf.budget import check_budget, total_resources
    from grace_flow.perf.frame import frame_model
    from grace_flow.synth.reports import format_resources

    board = load_board(board_path)
    engines = {engine: json.loads(Path(path).read_text()) for engine, path in
               sorted(engine_reports.items())}
    used = {engine: {k: v for k, v in record["resources"].items() if k != "available"}
            for engine, record in engines.items()}
    check_budget(used, board, margin)
    specs = {engine: read_spec(engine, specs[engine]) for engine in engines}
    program = Program.load(program_json)
    frame = frame_model(program.instructions, specs, board, clock_mhz, pixels, gop=gop)
    total = total_resources(used)
    record = {
        "board": board.name,
        "part": board.part,
        "toolchain": resolve_toolchain(toolchain),
        "margin": margin,
        "resources": total,
        "utilization": format_resources({"resources": total}, board.resources.model_dump()),
        "engines": {engine: {"resources": used[engine], "tool": r.get("tool"),
                             "tool_version": r.get("tool_version")}
                    for engine, r in engines.items()},
        "frame": frame,
    }
    if record["toolchain"] == "vitis":
        from grace_flow.synth.tcl import engine_ip
        from grace_flow.synth.vitis import synth_system

        ips = [engine_ip(engine, ip_dirs[engine]) for engine in engines]
        implementation = synth_system(ips, board, clock_mhz, Path(workdir))
        outputs = implementation["outputs"]
        atomic_write_bytes(hwh, (Path(workdir) / outputs["hwh"]).read_bytes())
        atomic_write_bytes(bitstream, (Path(workdir) / outputs["bitstream"]).read_bytes())
        record["implementation"] = implementation
    return _write(Path(report_path), record)
