"""The ``vitis`` toolchain: Vitis HLS per engine, Vivado for the system, on generated Tcl.

Each step writes its script (only when it changed), runs the tool through
:func:`grace_flow.toolrun.run_tool`, and returns the parsed reports with their provenance: which
toolchain, tool and version produced them, how long it took, and the log.
"""

from __future__ import annotations

from pathlib import Path

from grace_flow.perf.board import Board
from grace_flow.synth.reports import ReportError, parse_report
from grace_flow.synth.tcl import EngineBuild, EngineIp, TclScript, hls_script, system_script
from grace_flow.toolrun import ToolRun, run_tool

HLS_LOG = "vitis_hls.log"
VIVADO_LOG = "vivado.log"


def synth_engine(build: EngineBuild, board: Board, workdir: Path) -> dict:
    """C-synthesize and export one engine in ``workdir``; return its csynth.xml record.

    Cost: one Vitis HLS run (minutes). The record adds ``toolchain``, ``run`` (tool, version,
    seconds, log) and ``outputs`` (paths relative to ``workdir``).
    """
    workdir = Path(workdir)
    script = hls_script(build, board, workdir)
    run = _run(script, ["vitis_hls", "-f", script.path.name], HLS_LOG)
    record = parse_report(workdir / script.outputs["csynth_xml"])
    if record.get("part") != board.part:
        raise ReportError(
            f"{workdir / script.outputs['csynth_xml']}: synthesized for {record.get('part')}, "
            f"not the board's {board.part}; delete {workdir} and rerun"
        )
    return {**record, **_provenance("vitis_hls", run, script)}


def synth_system(engines: list[EngineIp], board: Board, clock_mhz: float, workdir: Path,
                 jobs: int = 4) -> dict:
    """Build the overlay to a bitstream in ``workdir``; return its implementation reports.

    Cost: one Vivado run (synthesis, place and route: tens of minutes). Returns
    ``{utilization, timing, power}`` records and provenance (``outputs`` names the .bit, .hwh).
    """
    workdir = Path(workdir)
    script = system_script(engines, board, clock_mhz, workdir, jobs)
    argv = ["vivado", "-mode", "batch", "-nojournal", "-nolog", "-source", script.path.name]
    run = _run(script, argv, VIVADO_LOG)
    reports = {key: parse_report(workdir / script.outputs[key])
               for key in ("utilization", "timing", "power")}
    return {**reports, **_provenance("vivado", run, script)}


def _run(script: TclScript, argv: list[str], log_name: str) -> ToolRun:
    script.write()
    workdir = script.path.parent
    return run_tool(argv, cwd=workdir, log_path=workdir / log_name,
                    expect=list(script.outputs.values()))


def _provenance(tool: str, run: ToolRun, script: TclScript) -> dict:
    return {
        "toolchain": "vitis",
        "run": {"tool": tool, "version": run.version, "seconds": round(run.seconds, 3),
                "log": run.log.name, "script": script.path.name},
        "outputs": {key: path.as_posix() for key, path in script.outputs.items()},
    }
