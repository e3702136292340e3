"""The one Jinja2 setup every generator uses: strict, whitespace-tidy.

StrictUndefined makes a missing template variable an error instead of an empty string, so a
generated C++ or Tcl file (or the HTML report) can never silently lose a value. C++ and Tcl are
not escaped; HTML is (``html=True``).
"""

from pathlib import Path

import jinja2


def strict_environment(folder: Path, html: bool = False) -> jinja2.Environment:
    """A Jinja2 environment loading templates from ``folder`` (escaping values for HTML)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=html,
    )
