"""The task graph, executed by real doit: what runs on which edit, and how failures look."""

import subprocess
import sys
from pathlib import Path

from doit_helpers import REPO, TINY_WORKFLOW

ALL = ["codec", "data", "model:decoder", "model:quality", "quantize"]


def write(path: Path, text: str) -> None:
    path.write_text(text)


def test_first_run_builds_all_then_nothing_runs(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW)
    first = doit("workflow=w.yaml")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.executed == ALL
    root = tmp_path / "artifacts" / "tiny"
    for relative in ["data/clips.npz", "model/decoder.pt", "model/quality.json",
                     "codec/test_000.agc", "codec/test_001.agc", "codec/bitrate.json",
                     "quantize/quantized_graph.json", "quantize/golden_vectors.npz"]:
        assert (root / relative).is_file(), relative
    assert not list(root.rglob("*.tmp")), "temporary files left behind"
    second = doit("workflow=w.yaml")
    assert second.returncode == 0
    assert second.executed == []
    assert second.skipped == ALL


def test_edits_rerun_only_the_stages_that_read_them(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW)
    assert doit("workflow=w.yaml").returncode == 0
    write(tmp_path / "w.yaml", TINY_WORKFLOW.replace("gop: 2", "gop: 3"))
    assert doit("workflow=w.yaml").executed == ["codec", "model:quality", "quantize"]
    write(tmp_path / "w.yaml", TINY_WORKFLOW.replace("gop: 2", "gop: 3")
          .replace("num_bottleneck_blocks: 1", "num_bottleneck_blocks: 2"))
    assert doit("workflow=w.yaml").executed == ["codec", "model:decoder", "model:quality",
                                                "quantize"]
    write(tmp_path / "w.yaml", TINY_WORKFLOW.replace("gop: 2", "gop: 3")
          .replace("num_bottleneck_blocks: 1", "num_bottleneck_blocks: 2")
          .replace("frames_per_clip: 4", "frames_per_clip: 5"))
    # An initialised (untrained) model does not read the clips, so it is not rebuilt.
    assert doit("workflow=w.yaml").executed == ["codec", "data", "model:quality", "quantize"]
    # A comment or key order is not a change of content.
    text = (tmp_path / "w.yaml").read_text()
    write(tmp_path / "w.yaml", "# a comment\n" + text)
    assert doit("workflow=w.yaml").executed == []


def test_workflows_keep_separate_artifacts_and_state(tmp_path, doit):
    write(tmp_path / "a.yaml", TINY_WORKFLOW)
    write(tmp_path / "b.yaml", TINY_WORKFLOW.replace("name: tiny", "name: other"))
    assert doit("workflow=a.yaml").executed == ALL
    assert doit("workflow=b.yaml").executed == ALL
    assert doit("workflow=a.yaml").executed == []
    assert (tmp_path / "artifacts" / "other" / "model" / "decoder.pt").is_file()


def test_bad_workflow_is_one_line_and_nonzero(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW.replace("num_kp: 4", "num_kp: four"))
    run = doit("workflow=w.yaml")
    assert run.returncode != 0
    assert run.stderr.strip() == (
        "grace_flow: w.yaml:8: model.num_kp: expected an integer 1..64, got 'four'")
    assert run.executed == []


def test_user_error_inside_a_task_fails_with_one_line(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW)
    assert doit("workflow=w.yaml").returncode == 0
    checkpoint = tmp_path / "artifacts" / "tiny" / "model" / "decoder.pt"
    (tmp_path / "ckpt.pt").write_bytes(checkpoint.read_bytes())
    mismatched = TINY_WORKFLOW.replace("source: init", "source: checkpoint\n  checkpoint: ckpt.pt")
    write(tmp_path / "w.yaml", mismatched.replace("max_features: 8, num_down", "max_features: 16, num_down"))
    run = doit("workflow=w.yaml")
    assert run.returncode != 0
    assert "Traceback" not in run.stdout + run.stderr
    failure = [line for line in run.stdout.splitlines() if "ckpt.pt" in line]
    assert len(failure) == 1
    assert failure[0].endswith(
        "ckpt.pt: parameter down_blocks.1.conv.weight has shape (8, 8, 3, 3), model expects "
        "(16, 8, 3, 3): set model.generator.max_features to match the checkpoint")


def test_doit_list_and_info(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW)
    listing = doit("list", "--all", "workflow=w.yaml")
    assert [line.split()[0] for line in listing.stdout.splitlines()] == [
        "codec", "data", "model", "model:decoder", "model:quality", "quantize"]
    info = doit("info", "model:quality", "workflow=w.yaml")
    assert "artifacts/tiny/model/quality.json" in info.stdout


def test_building_the_graph_imports_no_torch():
    code = ("import sys; from grace_flow.tasks import load_graph; "
            "graph = load_graph('workflow.yaml'); "
            "[list(t()) if not isinstance(t(), dict) else t() for t in graph.creators().values()]; "
            "print(sorted(m for m in ('torch', 'grace_flow.model', 'grace_flow.data', 'av') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
