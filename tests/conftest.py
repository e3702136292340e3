"""Fixtures shared by the whole suite."""

import pytest
from doit_helpers import run_doit
from repo_paths import BOARD_FILE

from grace_flow.perf.board import load_board


@pytest.fixture(scope="session")
def board():
    """The repository's PYNQ-Z1 board description."""
    return load_board(BOARD_FILE)


@pytest.fixture
def doit(tmp_path):
    """Call ``doit(*args)`` to run doit with the repo's dodo.py inside ``tmp_path``."""
    return lambda *args: run_doit(tmp_path, *args)
