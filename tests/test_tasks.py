"""The task graph, executed by real doit: what runs on which edit, and how failures look."""

import json
import subprocess
import sys
from pathlib import Path

from doit_helpers import REPO, TINY_WORKFLOW

ENGINES = ["conv", "elementwise", "grid_sample", "keypoint", "upsample"]
ENGINE_CHAINS = {f"{stage}:{engine}" for stage in ("hls", "csim", "synth") for engine in ENGINES}
SYSTEM = {"compile", "csim:decoder", "synth:system", "overlay", "deploy", "validate:reference",
          "validate:target"}
ALL = sorted({"codec:encode", "codec:quality", "data", "model", "quantize"} | SYSTEM
             | ENGINE_CHAINS)


def write(path: Path, text: str) -> None:
    path.write_text(text)


def _files(root: Path) -> set[str]:
    """Every file under ``root``, relative to the project folder: doit's own database aside, and
    the emulated board's filesystem (deploy/emulator/: the target's files, as on a real board)."""
    board = root / "deploy" / "emulator"
    return {str(p.relative_to(root.parents[1])) for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".doit.db") and board not in p.parents}


def _targets(project: Path, workflow: str) -> set[str]:
    """The targets of every task of ``workflow``, as the graph in ``project`` declares them."""
    code = ("import json; from grace_flow.tasks import load_graph; "
            f"graph = load_graph({workflow!r}); "
            "print(json.dumps([t for _, steps in graph.stages() for s in steps "
            "for t in s.task()['targets']]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, check=True)
    return set(json.loads(out.stdout))


def test_first_run_builds_all_then_nothing_runs(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW)
    first = doit("workflow=w.yaml")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.executed == ALL
    root = tmp_path / "artifacts" / "tiny"
    for relative in ["data/clips.npz", "model/decoder.pt", "codec/quality.json",
                     "codec/test_000.agc", "codec/test_001.agc", "codec/bitrate.json",
                     "quantize/quantized_graph.json", "quantize/quality.json",
                     "compile/program.bin", "compile/specs/conv.json", "hls/conv/conv_top.cpp",
                     "csim/conv.json", "csim/decoder.json", "synth/system.json",
                     "overlay/manifest.json", "overlay/board.py", "deploy/receipt.json",
                     "validate/reference.npz", "validate/report.json", "report.html"]:
        assert (root / relative).is_file(), relative
    assert not list(root.rglob("*.tmp")), "temporary files left behind"
    assert _files(root) == _targets(tmp_path, "w.yaml"), "every artifact is some task's target"
    second = doit("workflow=w.yaml")
    assert second.returncode == 0
    assert second.executed == []
    assert second.skipped == ALL


def test_workflows_keep_separate_artifacts_and_state(tmp_path, doit):
    write(tmp_path / "a.yaml", TINY_WORKFLOW)
    write(tmp_path / "b.yaml", TINY_WORKFLOW.replace("name: tiny", "name: other"))
    assert doit("workflow=a.yaml").executed == ALL
    assert doit("workflow=b.yaml").executed == ALL
    assert doit("workflow=a.yaml").executed == []
    assert (tmp_path / "artifacts" / "other" / "overlay" / "manifest.json").is_file()


def test_bad_workflow_is_one_line_and_nonzero(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW.replace("num_kp: 4", "num_kp: four"))
    run = doit("workflow=w.yaml")
    assert run.returncode != 0
    assert run.stderr.strip() == (
        "grace_flow: w.yaml:8: model.num_kp: expected an integer 1..64, got 'four'")
    assert run.executed == []


def test_user_error_inside_a_task_fails_with_one_line(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW)
    assert doit("workflow=w.yaml", "model").returncode == 0
    checkpoint = tmp_path / "artifacts" / "tiny" / "model" / "decoder.pt"
    (tmp_path / "ckpt.pt").write_bytes(checkpoint.read_bytes())
    mismatched = TINY_WORKFLOW.replace("source: init", "source: checkpoint\n  checkpoint: ckpt.pt")
    write(tmp_path / "w.yaml", mismatched.replace("max_features: 8, num_down",
                                                  "max_features: 16, num_down"))
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
    names = [line.split()[0] for line in listing.stdout.splitlines()]
    groups, commands = ("codec", "csim", "hls", "synth", "validate"), ("bundle", "compare",
                                                                      "rollback")
    assert sorted(n for n in names if n not in groups + commands) == ALL
    assert set(commands) <= set(names)  # listed, never run by a plain `doit`
    info = doit("info", "codec:quality", "workflow=w.yaml")
    assert "artifacts/tiny/codec/quality.json" in info.stdout


def test_no_task_reads_a_file_of_measured_times(monkeypatch):
    monkeypatch.chdir(REPO)
    from grace_flow.tasks import load_graph

    graph = load_graph("workflow.yaml")
    measured = {str(path) for path in graph.paths.measured}
    readers = [step.name for _, steps in graph.stages() for step in steps
               if measured & set(step.task()["file_dep"])]
    assert measured and readers == []


def test_building_the_graph_imports_no_torch_and_no_numpy():
    code = ("import sys; from grace_flow.tasks import load_graph; "
            "graph = load_graph('workflow.yaml'); "
            "[list(t()) if not isinstance(t(), dict) else t() for t in graph.creators().values()]; "
            "print(sorted(m for m in ('torch', 'numpy', 'grace_flow.model', 'grace_flow.data', 'av') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_rollback_runs_only_when_asked_and_the_next_run_deploys_again(tmp_path, doit):
    write(tmp_path / "w.yaml", TINY_WORKFLOW)
    assert doit("workflow=w.yaml").returncode == 0
    receipt = tmp_path / "artifacts" / "tiny" / "deploy" / "receipt.json"
    first = json.loads(receipt.read_text())
    nothing = doit("workflow=w.yaml", "rollback")
    assert nothing.returncode != 0 and "there is no previous version" in nothing.stdout
    write(tmp_path / "w.yaml", TINY_WORKFLOW.replace("tile_rows: 2", "tile_rows: 4"))
    assert doit("workflow=w.yaml").returncode == 0
    second = json.loads(receipt.read_text())
    assert second["previous"] == first["version"]
    back = doit("workflow=w.yaml", "rollback")
    assert back.returncode == 0 and back.executed == ["rollback"]
    assert json.loads(receipt.read_text())["version"] == first["version"]
    # The workflow still asks for the new package: the next run deploys and validates it.
    again = doit("workflow=w.yaml")
    assert again.executed == ["deploy", "validate:target"]
    assert json.loads(receipt.read_text())["version"] == second["version"]
