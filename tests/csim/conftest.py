"""Session fixture: engines rendered with their default spec and built once per test session."""

import pytest

from grace_flow.csim.build import build_engine
from grace_flow.csim.engines import EngineLibrary
from grace_flow.hls.render import render_engine
from grace_flow.hls.spec import default_spec


@pytest.fixture(scope="session")
def engine_library(tmp_path_factory):
    """``engine_library(name)``: the EngineLibrary of ``name`` built from its default spec."""
    root = tmp_path_factory.mktemp("csim")
    built: dict[str, EngineLibrary] = {}

    def get(engine: str) -> EngineLibrary:
        if engine not in built:
            render_engine(engine, default_spec(engine), root / engine)
            library = build_engine(root / engine, engine, root / "build")
            built[engine] = EngineLibrary(library, engine)
        return built[engine]

    return get
