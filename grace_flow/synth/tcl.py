"""Vendor-tool Tcl generation: a Vitis HLS script per engine and one Vivado script for the system.

Templates live in ``kernels/tcl/``. Rendering is strict (an unset variable is an error) and
reproducible: the header carries a hash of the template and its inputs, never a time. Names
that reach Tcl are limited to letters, digits and ``_``; paths are written relative to the
folder the script runs in, so the script does not depend on where the checkout lives.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from grace_flow.config import stable_hash
from grace_flow.errors import FlowError
from grace_flow.fsutil import write_if_changed
from grace_flow.templating import strict_environment
from grace_flow.perf.board import Board

TEMPLATES = Path(__file__).resolve().parents[2] / "kernels" / "tcl"
SOLUTION = "solution1"
IP_VENDOR = "grace_flow"
IP_LIBRARY = "hls"
IP_VERSION = "1.0"
DESIGN = "overlay"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters a path may hold so that it reads the same inside Tcl braces and on any shell.
_PATH = re.compile(r"[A-Za-z0-9_./+-]+")


class TclError(FlowError):
    """An engine or system description that cannot be written into a tool script."""


@dataclass(frozen=True)
class EngineBuild:
    """One engine to synthesize: its HLS top function, sources, include folders and clock."""

    name: str
    top: str
    sources: list[Path]
    include_dirs: list[Path]
    clock_ns: float


@dataclass(frozen=True)
class EngineIp:
    """An engine exported as Vivado IP: block-design cell name, VLNV, and its IP repository."""

    name: str
    vlnv: str
    repo: Path


@dataclass(frozen=True)
class TclScript:
    """A rendered script, where it goes, and the outputs (relative to its folder) it writes."""

    path: Path
    text: str
    outputs: dict[str, Path] = field(default_factory=dict)

    def write(self) -> bool:
        """Write the script only if its content changed; True when it was (re)written."""
        return write_if_changed(self.path, self.text)


def hls_project(engine: str) -> str:
    """The Vitis HLS project folder name of ``engine`` (inside its work folder)."""
    return f"{_name(engine, 'engine name')}_prj"


def hls_script(build: EngineBuild, board: Board, workdir: Path) -> TclScript:
    """The Vitis HLS script that synthesizes ``build`` and exports it as IP, run in ``workdir``.

    Outputs: ``csynth_xml`` (the synthesis report) and ``component_xml`` (the packaged IP).
    """
    workdir = Path(workdir)
    project = hls_project(build.name)
    if not build.sources:
        raise TclError(f"engine {build.name}: no source files to synthesize")
    if not 0.5 <= build.clock_ns <= 100:
        raise TclError(f"engine {build.name}: clock period {build.clock_ns} ns is not 0.5..100")
    includes = [_relative(path, workdir) for path in build.include_dirs]
    outputs = {
        "csynth_xml": Path(project, SOLUTION, "syn", "report", "csynth.xml"),
        "component_xml": Path(project, SOLUTION, "impl", "ip", "component.xml"),
    }
    context = {
        "name": build.name,
        "top": _name(build.top, f"engine {build.name}: top function"),
        "project": project,
        "solution": SOLUTION,
        "sources": [_relative(path, workdir) for path in build.sources],
        "cflags": " ".join(f"-I{path}" for path in includes),
        "part": board.part,
        "clock_ns": f"{build.clock_ns:.3f}",
        "vendor": IP_VENDOR,
        "library": IP_LIBRARY,
        "ip_version": IP_VERSION,
        "vlnv": engine_vlnv(build.name),
        "script": "hls.tcl",
        "csynth_xml": outputs["csynth_xml"].as_posix(),
        "ip_dir": outputs["component_xml"].parent.as_posix(),
    }
    return TclScript(workdir / "hls.tcl", _render("hls_engine.tcl.j2", context), outputs)


def engine_vlnv(name: str) -> str:
    """The vendor:library:name:version under which the engine ``name`` is exported."""
    return f"{IP_VENDOR}:{IP_LIBRARY}:{_name(name, 'engine name')}:{IP_VERSION}"


def engine_ip(engine: str, hls_workdir: Path) -> EngineIp:
    """The IP that :func:`hls_script` exports for ``engine`` when run in ``hls_workdir``."""
    repo = Path(hls_workdir) / hls_project(engine) / SOLUTION / "impl" / "ip"
    return EngineIp(engine, engine_vlnv(engine), repo)


def system_script(engines: list[EngineIp], board: Board, clock_mhz: float, workdir: Path,
                  jobs: int = 4) -> TclScript:
    """The Vivado script that builds the overlay (PS7 + engines) to a bitstream, run in ``workdir``.

    Engines' ``m_axi_gmem`` masters are spread over the board's HP ports in order (engine i on
    HP i mod count); every ``s_axi_control`` sits behind the control port. Outputs:
    ``utilization``, ``timing``, ``power`` reports, ``bitstream`` and ``hwh``.
    """
    workdir = Path(workdir)
    if not engines:
        raise TclError("system: no engines to put in the overlay")
    names = [_name(engine.name, "engine name") for engine in engines]
    if len(set(names)) != len(names):
        raise TclError(f"system: engine names repeat: {', '.join(names)}")
    clock_mhz = board.pl_clock_mhz(clock_mhz)  # raises for a frequency the PS cannot generate
    count = board.memory.hp_ports.count
    placed = [{"name": engine.name, "vlnv": _vlnv(engine.vlnv), "hp": i % count}
              for i, engine in enumerate(engines)]
    outputs = {
        "utilization": Path("reports", "utilization.rpt"),
        "timing": Path("reports", "timing_summary.rpt"),
        "power": Path("reports", "power.rpt"),
        "bitstream": Path(f"{DESIGN}.bit"),
        "hwh": Path(f"{DESIGN}.hwh"),
    }
    context = {
        "design": DESIGN,
        "part": board.part,
        "board_part": board.board_part,
        "ip_repos": sorted({_relative(engine.repo, workdir) for engine in engines}),
        "clock_mhz": f"{clock_mhz:g}",
        "control_port": board.memory.control_port,
        "hp_ports": sorted({engine["hp"] for engine in placed}),
        "engines": placed,
        "jobs": int(jobs),
        "script": "system.tcl",
        "outputs": [path.as_posix() for path in outputs.values()],
        **{key: path.as_posix() for key, path in outputs.items()},
    }
    return TclScript(workdir / "system.tcl", _render("system.tcl.j2", context), outputs)


def _render(template_name: str, context: dict) -> str:
    environment = strict_environment(TEMPLATES)
    template = environment.get_template(template_name)
    source = (TEMPLATES / template_name).read_text(encoding="utf-8")
    inputs_hash = stable_hash({"template": source, "context": context})[:16]
    return template.render(**context, inputs_hash=inputs_hash)


def _name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        raise TclError(f"{what} {value!r}: use letters, digits and _ only, not a leading digit")
    return value


def _vlnv(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 4 or not all(re.fullmatch(r"[A-Za-z0-9_.]+", part) for part in parts):
        raise TclError(f"IP {value!r}: expected vendor:library:name:version")
    return value


def _relative(path: Path, workdir: Path) -> str:
    """``path`` as seen from ``workdir``, in forward slashes; refuses characters Tcl would read."""
    text = Path(os.path.relpath(Path(path).resolve(), Path(workdir).resolve())).as_posix()
    if not _PATH.fullmatch(text):
        raise TclError(
            f"path {text!r}: a tool script path may hold only letters, digits and _ . / + -; "
            "move or rename it"
        )
    return text
