"""Fixtures shared by the whole suite."""

import pytest
from doit_helpers import TINY_WORKFLOW, copy_project, run_doit, run_project
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


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A copy of the project (code, templates, boards) with the tiny workflow w.yaml built."""
    project = copy_project(tmp_path_factory.mktemp("built"))
    (project / "w.yaml").write_text(TINY_WORKFLOW)
    run = run_project(project, "workflow=w.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    return project
