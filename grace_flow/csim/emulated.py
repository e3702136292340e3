"""The emulated co-processor of the C-sim stages: engines rendered from their specs and built
with g++, behind the runtime's EmulatedHardware, driven by the runtime's program runner."""

from __future__ import annotations

import json
from pathlib import Path

from grace_flow.csim.build import build_engine
from grace_flow.engines.program import Program
from grace_flow.errors import FlowError
from grace_flow.hls.render import render_engine
from grace_flow.runtime.emulated import EmulatedHardware, emulated_register_map
from grace_flow.runtime.engines import EngineLibrary
from grace_flow.runtime.runner import ProgramRunner


class EmulatorError(FlowError):
    """An engine spec the emulated co-processor cannot be built from."""


def load_engines(specs_dir, build_dir, engines) -> dict[str, EngineLibrary]:
    """Render and build (cached) each engine in ``engines`` from specs_dir/<engine>.json."""
    libraries = {}
    for engine in sorted(set(engines)):
        spec_path = Path(specs_dir) / f"{engine}.json"
        if not spec_path.is_file():
            raise EmulatorError(f"csim: {spec_path} missing: run the compile stage first")
        sources = Path(build_dir) / "sources" / engine
        render_engine(engine, json.loads(spec_path.read_text()), sources)
        libraries[engine] = EngineLibrary(build_engine(sources, engine, build_dir), engine)
    return libraries


def emulated_runner(program: Program, weights: bytes,
                    libraries: dict[str, EngineLibrary]) -> ProgramRunner:
    """The runtime's runner over the C-sim ``libraries`` in the emulated overlay's register map."""
    hardware = EmulatedHardware(program.ddr_bytes, libraries, emulated_register_map(
        sorted(libraries)))
    return ProgramRunner(program, weights, hardware)
