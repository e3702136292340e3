"""The one Jinja2 setup every generator uses: strict, whitespace-tidy, no autoescape.

StrictUndefined makes a missing template variable an error instead of an empty string, so a
generated C++ or Tcl file can never silently lose a value.
"""

from pathlib import Path

import jinja2


def strict_environment(folder: Path) -> jinja2.Environment:
    """A Jinja2 environment loading templates from ``folder``."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
