"""Fixtures shared by the whole suite."""

import pytest

from doit_helpers import run_doit


@pytest.fixture
def doit(tmp_path):
    """Call ``doit(*args)`` to run doit with the repo's dodo.py inside ``tmp_path``."""
    return lambda *args: run_doit(tmp_path, *args)
