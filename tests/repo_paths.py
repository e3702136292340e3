"""Paths of what the tests read from the repository (nothing outside it: a user's clone is alone)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Real vendor tool output (csynth, Vivado reports, .hwh); provenance in its SOURCES.md.
VENDOR = REPO / "tests" / "fixtures" / "vendor"
BOARD_FILE = REPO / "constraints" / "boards" / "pynq-z1.yaml"
