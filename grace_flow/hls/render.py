"""Render an engine's sources for a spec: generated config + top, hand-written headers copied.

The output folder is self-contained (what g++ and vitis_hls compile): <engine>_config.h and
<engine>_top.cpp from kernels/*.j2, next to copies of kernels/<engine>_engine.h, the shared
headers and the engine's own (sources.ENGINE_HEADERS). Every file is written only when its content changes.
"""

import hashlib
import json
from pathlib import Path

from grace_flow.fsutil import write_if_changed
from grace_flow.hls.sources import ENGINE_HEADERS, KERNELS, SHARED_HEADERS, template_names
from grace_flow.engines.registers import CONV_FLAGS, MODES, REGISTERS, STATUS
from grace_flow.engines.spec import SpecError, check_spec, engine_constants
from grace_flow.templating import strict_environment

def source_origin(engine: str, file_name: str) -> str:
    """The repo file a rendered file comes from: its template, or the header it copies."""
    if file_name == f"{engine}_config.h":
        return "kernels/engine_config.h.j2"
    if file_name == f"{engine}_top.cpp":
        return f"kernels/{engine}_top.cpp.j2"
    return f"kernels/{file_name}"


def inputs_hash(engine: str, spec: dict) -> str:
    """12 hex digits of sha256 over the engine's template texts and its canonical spec JSON."""
    digest = hashlib.sha256()
    for name in template_names(engine):
        digest.update(name.encode() + b"\0" + (KERNELS / name).read_bytes() + b"\0")
    digest.update(json.dumps(spec, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def _symbols(engine: str) -> list[tuple[str, int]]:
    """Named register values (conv flag bits, modes) as GF_<ENGINE>_<NAME> constants."""
    if engine == "conv":
        return list(CONV_FLAGS.items())
    return list(MODES.get(engine, {}).items())


def render_engine(engine_name: str, spec: dict, out_dir) -> list[Path]:
    """Render ``engine_name`` for ``spec`` into ``out_dir``; return the engine's source files.

    Raises SpecError (one line) for an unknown engine or a spec the templates cannot serve.
    """
    if engine_name not in REGISTERS:
        raise SpecError(f"unknown engine {engine_name!r}; engines: {', '.join(REGISTERS)}")
    check_spec(engine_name, spec)
    constants = engine_constants(engine_name, spec)
    context = {
        "engine": engine_name,
        "spec": spec,
        "inputs_hash": inputs_hash(engine_name, spec),
        "registers": REGISTERS[engine_name],
        "status": [(code, name, doc) for code, (name, doc) in STATUS.items()],
        "symbols": _symbols(engine_name),
        "constants": list(constants.items()),
        "cfg": constants,  # the same, by name (partition factors)
    }
    env = strict_environment(KERNELS)
    out_dir = Path(out_dir)
    files = {
        f"{engine_name}_config.h": env.get_template("engine_config.h.j2").render(context),
        f"{engine_name}_top.cpp": env.get_template(f"{engine_name}_top.cpp.j2").render(context),
    }
    for header in (*SHARED_HEADERS, *ENGINE_HEADERS.get(engine_name, ()),
                   f"{engine_name}_engine.h"):
        files[header] = (KERNELS / header).read_text(encoding="utf-8")
    paths = []
    for name, text in files.items():
        write_if_changed(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
