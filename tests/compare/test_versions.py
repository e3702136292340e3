"""`doit compare` between two commits of a test repository: what differs, what rebuilds, the
figures side by side, and the build command of a version that is not built."""

import json
import re
import shutil
import subprocess

import pytest
from doit_helpers import run_project

from grace_flow.compare.versions import CompareError, changed_keys, workflow_at_revision
from grace_flow.config import board_file, load_workflow

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def git(folder, *args):
    import os

    return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


@pytest.fixture
def repository(built, tmp_path):
    """The built project in a git repository: w.yaml committed, then edited and committed."""
    project = tmp_path / "repo"
    shutil.copytree(built, project, symlinks=True)
    git(project, "init", "-q")
    git(project, "add", "w.yaml")
    git(project, "commit", "-qm", "v1")
    text = (project / "w.yaml").read_text()
    (project / "w.yaml").write_text(text.replace("num_bottleneck_blocks: 1",
                                                 "num_bottleneck_blocks: 2"))
    git(project, "commit", "-qam", "v2: one more residual block")
    return project


def test_compare_two_commits(repository, built):
    assert run_project(repository, "workflow=w.yaml").returncode == 0  # build v2
    run = run_project(repository, "compare", "workflow=w.yaml", "ref=HEAD~1")
    assert run.returncode == 0, run.stdout + run.stderr
    short = git(repository, "rev-parse", "--short=7", "HEAD~1")
    assert "model.generator.num_bottleneck_blocks: 2 -> 1" in run.stdout
    result = json.loads((repository / "artifacts" / "tiny" / "compare.json").read_text())
    assert result["changed_keys"] == {"model.generator.num_bottleneck_blocks": [2, 1]}
    # The model's inputs differ (and the package's provenance); what reads the model follows.
    assert result["rebuild"] == ["model", "overlay", "validate:target"]
    assert {"quantize", "compile", "csim:decoder", "synth:system"} <= set(result["may_follow"])
    assert set(result["engines"].values()) == {"unknown (compile both versions)"}
    # v1 is not built under its own name yet: the comparison says how to build it.
    other = f"artifacts/compare/tiny_{short}.yaml"
    command = result["build_commands"][f"tiny@HEAD~1"]
    assert command == f"doit workflow={other} codec:encode codec:quality quantize synth:system"
    assert re.search(rf"tiny@HEAD~1: not built for these inputs; build with: {re.escape(command)}",
                     run.stdout)
    assert all(row["theirs"] is None and row["ours"] is not None for row in result["rows"])

    build = run_project(repository, *command.split()[1:])
    assert build.returncode == 0, build.stdout + build.stderr
    run = run_project(repository, "compare", "workflow=w.yaml", "ref=HEAD~1")
    result = json.loads((repository / "artifacts" / "tiny" / "compare.json").read_text())
    figures = {row["figure"]: row for row in result["rows"]}
    # v1 under its new name computes what the first build of v1 did, figure for figure.
    v1 = json.loads((built / "artifacts" / "tiny" / "codec" / "quality.json").read_text())
    assert figures["float PSNR (predicted frames)"]["theirs"] == v1["decoder"]["psnr_db"]
    assert figures["DSP"]["theirs"] == figures["DSP"]["ours"]  # the same engines
    assert set(result["engines"].values()) == {"same hardware"}
    assert "not built" not in run.stdout


def test_compare_needs_exactly_one_other_version(repository):
    run = run_project(repository, "compare", "workflow=w.yaml")
    assert run.returncode != 0
    assert "compare: give ref=<git revision> or against=<workflow file>" in run.stdout


def test_revision_errors_are_one_line(repository, tmp_path):
    with pytest.raises(CompareError, match=r"^compare: ref=nope: no such git revision"):
        workflow_at_revision(repository / "w.yaml", "nope", tmp_path)
    outside = tmp_path / "alone" / "w.yaml"
    outside.parent.mkdir()
    outside.write_text("name: x\n")
    with pytest.raises(CompareError, match=r"is not in a git repository; use against="):
        workflow_at_revision(outside, "HEAD", tmp_path)


def test_the_revision_keeps_its_relative_paths(repository, tmp_path):
    (repository / "boards").mkdir()
    shutil.copy(repository / "constraints" / "boards" / "pynq-z1.yaml",
                repository / "boards" / "mine.yaml")
    (repository / "w.yaml").write_text((repository / "w.yaml").read_text()
                                       + "board: boards/mine.yaml\n")
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "own board")
    written = workflow_at_revision(repository / "w.yaml", "HEAD", tmp_path / "out" / "compare")
    assert board_file(written, load_workflow(written)) == (repository / "boards" / "mine.yaml")


def test_changed_keys():
    assert changed_keys({"name": "a", "model": {"num_kp": 10, "generator": {"d": 1}}},
                        {"name": "b", "model": {"num_kp": 5, "generator": {"d": 1}}}) == {
        "model.num_kp": (10, 5)}
