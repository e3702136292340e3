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


@pytest.fixture(scope="session")
def tiny_board(tmp_path_factory):
    """A real overlay package of a tiny decoder, its test bitstreams and golden frame hashes."""
    from board_support import build_tiny_board

    return build_tiny_board(tmp_path_factory.mktemp("tiny_board"))


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on 127.0.0.1 (started once, stopped by its PID)."""
    import shutil

    from sshd import SSHD, Sshd

    if not SSHD.is_file() or shutil.which("ssh-keygen") is None:
        pytest.fail("OpenSSH's server is missing: run `make test`, which installs openssh-server")
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()
