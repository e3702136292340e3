"""The hls:<engine> stage: an engine's spec file → its rendered sources.

A spec file is the JSON object of one engine's spec (what compile writes as specs/<engine>.json,
only when its content changes), so this stage depends on the spec and the engine's templates and
headers, never on the decoder's program.
"""

from pathlib import Path

from grace_flow.engines.spec import read_spec
from grace_flow.hls.render import render_engine


def hls_engine(engine: str, spec_path, out_dir) -> list[Path]:
    """Render ``engine`` for the spec in ``spec_path`` into ``out_dir``; return its source files.

    Files whose content is unchanged are not rewritten (their mtimes stay).
    """
    return render_engine(engine, read_spec(engine, spec_path), out_dir)
