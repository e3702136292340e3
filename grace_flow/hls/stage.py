"""The hls:<engine> stage: an engine's spec file → its rendered sources.

A spec file is the JSON object of one engine's spec (what compile writes as specs/<engine>.json,
only when its content changes), so this stage depends on the spec and the engine's templates and
headers, never on the decoder's program.
"""

import json
from pathlib import Path

from grace_flow.hls.render import render_engine
from grace_flow.hls.spec import SpecError, check_spec


def read_spec(engine: str, spec_path) -> dict:
    """The checked spec of ``engine`` in ``spec_path``; a one-line SpecError naming the file."""
    spec_path = Path(spec_path)
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{spec_path}: spec file missing; run the compile stage first") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = str(error).splitlines()[0]
        raise SpecError(f"{spec_path}: not a JSON spec ({reason})") from None
    try:
        check_spec(engine, spec)
    except SpecError as error:
        raise SpecError(f"{spec_path}: {error}") from None
    return spec


def hls_engine(engine: str, spec_path, out_dir) -> list[Path]:
    """Render ``engine`` for the spec in ``spec_path`` into ``out_dir``; return its source files.

    Files whose content is unchanged are not rewritten (their mtimes stay).
    """
    return render_engine(engine, read_spec(engine, spec_path), out_dir)
