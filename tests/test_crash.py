"""Crash safety: a flow SIGKILLed mid-task, then finished, leaves the artifacts of an
uninterrupted run, byte for byte (bench/kill.py does this at 20 random points)."""

import pytest
from doit_helpers import TINY_WORKFLOW, artifact_digests, copy_project, kill_during, run_project

#: The files of measured times (Paths.measured): they differ run to run, no task reads them.
MEASURED = {"csim/decoder.json", "model/train_log.json", "deploy/receipt.json",
            "validate/report.json", "report.html"}


@pytest.mark.parametrize("task, delay", [("quantize", 0.5), ("overlay", 0.05)])
def test_a_killed_flow_finishes_with_the_same_artifacts(built, tmp_path, task, delay):
    project = copy_project(tmp_path / "project")
    (project / "w.yaml").write_text(TINY_WORKFLOW)
    assert kill_during(project, task, delay, "workflow=w.yaml"), "the kill came too late"
    finish = run_project(project, "workflow=w.yaml")
    assert finish.returncode == 0, finish.stdout + finish.stderr
    got = artifact_digests(project / "artifacts" / "tiny", MEASURED)
    assert got == artifact_digests(built / "artifacts" / "tiny", MEASURED)
