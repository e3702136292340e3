"""Session fixture: engines rendered for a spec and built once per test session."""

import pytest

from grace_flow.csim.build import build_engine
from grace_flow.runtime.engines import EngineLibrary
from grace_flow.csim.selftest import spec_hash
from grace_flow.hls.render import render_engine
from grace_flow.engines.spec import default_spec


@pytest.fixture(scope="session")
def engine_library(tmp_path_factory):
    """``engine_library(name, spec=None)``: the EngineLibrary of ``name`` built for ``spec``.

    Without a spec, the engine's default spec.
    """
    root = tmp_path_factory.mktemp("csim")
    built: dict[str, EngineLibrary] = {}

    def get(engine: str, spec: dict | None = None) -> EngineLibrary:
        spec = default_spec(engine) if spec is None else spec
        key = f"{engine}-{spec_hash(spec)}"
        if key not in built:
            render_engine(engine, spec, root / key)
            library = build_engine(root / key, engine, root / "build")
            built[key] = EngineLibrary(library, engine)
        return built[key]

    return get
