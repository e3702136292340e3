"""Progress bars for long steps: drawn on a terminal, silent in CI logs and other non-ttys.

Every long host-side step (training, the whole-decoder C-sim, an upload, a clip decoded on the
target) draws its bar through :func:`progress`, so they all behave alike: a log file gets the
step's result lines, never a stream of carriage-return updates.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(iterable=None, *, total=None, desc: str, unit: str = "it", **options) -> tqdm:
    """A tqdm bar on stderr, disabled when stderr is not a terminal."""
    options = {"mininterval": 0.5, "dynamic_ncols": True, **options}
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr,
                disable=not sys.stderr.isatty(), **options)


def say(text: str) -> None:
    """Print a line for the person running the flow, above any bar (also into logs)."""
    tqdm.write(text, file=sys.stderr)
