"""Sweeps on real Dask clusters: a LocalCluster, and scheduler + worker processes on 127.0.0.1."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sweep_support import (SIX_VARIANTS, TRAINED_WORKFLOW, dask_processes, make_project,
                           results, run_cli)

from grace_flow.sweep.plan import load_plan
from grace_flow.sweep.run import sweep

NAMES = sorted(f"fold_num_kp{kp}_unroll_out{u}" for kp in (4, 5) for u in (1, 2, 4))


@pytest.fixture(scope="module")
def local_cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def run_local(project, client):
    """The sweep ``s.yaml`` of ``project`` through the Python API, as the CLI runs it."""
    cwd = os.getcwd()
    os.chdir(project)
    try:
        lines = []
        sweep(load_plan("s.yaml"), client, echo=lines.append)
        return lines
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, local_cluster):
    """The six-variant sweep, run once on the LocalCluster."""
    project = make_project(tmp_path_factory.mktemp("local"))
    run_local(project, local_cluster)
    return project


def test_six_variants_on_a_local_cluster(local_sweep):
    found = results(local_sweep)
    assert sorted(found) == NAMES
    assert {r["status"] for r in found.values()} == {"ok"}
    table = (local_sweep / "artifacts" / "sweeps" / "fold" / "pareto.txt").read_text()
    assert table.startswith("sweep fold: 6 variants, 6 ok, 0 failed")
    rows = [line for line in table.splitlines() if "fold_num_kp" in line]
    assert len(rows) == 6 and any(row.startswith("*") for row in rows)
    # One quantized model computes the same frames on every folding of the engines.
    for kp in (4, 5):
        psnr = {found[f"fold_num_kp{kp}_unroll_out{u}"]["figures"]["psnr_db"] for u in (1, 2, 4)}
        assert len(psnr) == 1
    for name in NAMES:
        assert (local_sweep / "artifacts" / name / "synth" / "system.json").is_file()


def test_foldings_of_one_model_train_and_quantize_once(local_sweep):
    found = results(local_sweep)
    for kp in (4, 5):
        group = [found[f"fold_num_kp{kp}_unroll_out{u}"]["tasks"] for u in (1, 2, 4)]
        for task in ("model", "quantize"):
            assert sorted(tasks[task] for tasks in group) == ["ran", "stored", "stored"], task
        assert [tasks["compile"] for tasks in group] == ["ran"] * 3
    # The data set is one for all six.
    assert sorted(r["tasks"]["data"] for r in found.values()) == ["ran"] + ["stored"] * 5
    checkpoints = {(local_sweep / "artifacts" / f"fold_num_kp4_unroll_out{u}" / "model" /
                    "decoder.pt").read_bytes() for u in (1, 2, 4)}
    assert len(checkpoints) == 1


def test_scheduler_and_worker_processes_give_the_same_table(tmp_path, local_sweep):
    project = make_project(tmp_path / "project")
    with dask_processes(tmp_path) as dask:
        run = run_cli(project, "--scheduler", dask.address)
        assert run.returncode == 0, run.stdout + run.stderr
        again = run_cli(project, "--scheduler", dask.address)
    expected = (local_sweep / "artifacts" / "sweeps" / "fold" / "pareto.txt").read_text()
    assert expected in run.stdout
    assert (project / "artifacts" / "sweeps" / "fold" / "pareto.txt").read_text() == expected
    # Rerunning a finished sweep executes nothing.
    assert again.returncode == 0, again.stdout + again.stderr
    assert expected in again.stdout
    assert {name: r["tasks"] for name, r in results(project).items()} == {n: {} for n in NAMES}


def test_a_killed_worker_loses_no_variant(tmp_path):
    from distributed import Client

    project = make_project(tmp_path / "project", SIX_VARIANTS.replace("[1, 2, 4]", "[2, 4]"))
    with dask_processes(tmp_path, nanny=False) as dask, Client(dask.address) as client:
        sweep_run = subprocess.Popen(
            [sys.executable, "-m", "grace_flow.sweep", "s.yaml", "--scheduler", dask.address],
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        victim = _worker_inside_a_variant(client, project)
        pid = client.run(os.getpid, workers=[victim])[victim]
        assert pid in [w.pid for w in dask.workers]
        os.kill(pid, signal.SIGKILL)
        output, _ = sweep_run.communicate(timeout=600)
        assert sweep_run.returncode == 0, output
        assert [w.poll() for w in dask.workers].count(None) == 1
    found = results(project)
    assert len(found) == 4 and {r["status"] for r in found.values()} == {"ok"}, output
    # The killed worker's variant finished elsewhere: every variant's last run names a survivor.
    finished = [line for line in output.splitlines() if ": ok in " in line]
    assert len(finished) == 4 and not any(line.endswith(victim) or f" on {victim} " in line
                                          for line in finished), output


def _worker_inside_a_variant(client, project) -> str:
    """A worker whose variant's flow has started (its log shows a task running)."""
    logs = project / "artifacts" / "sweeps" / "fold" / "logs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            for key in keys:
                log = logs / f"{key.rsplit('-', 1)[0]}.log"
                if log.is_file() and "\n. " in log.read_text():
                    return worker
        time.sleep(0.2)
    raise AssertionError("no variant started")


def test_failed_variants_are_reported_and_the_sweep_goes_on(tmp_path, local_cluster):
    project = make_project(tmp_path, """\
name: fold
workflow: w.yaml
variants:
  - name: fold_ok
    set: {engines.conv.unroll_out: 2}
  - name: fold_typo
    set: {engines.conv.unroll_outt: 2}
  - name: fold_huge
    set: {engines.conv.unroll_out: 32, engines.conv.unroll_in: 32}
""", TRAINED_WORKFLOW.replace("source: train", "source: init"))
    lines = run_local(project, local_cluster)
    found = results(project)
    assert found["fold_ok"]["status"] == "ok"
    assert found["fold_typo"]["reason"] == (
        "s.yaml:7: engines.conv.unroll_outt: unknown key; did you mean 'unroll_out'?")
    assert found["fold_typo"]["tasks"] == {}
    assert found["fold_huge"]["status"] == "failed"
    assert found["fold_huge"]["reason"].startswith(
        "synth:system: over budget on pynq_z1 with margin 0.1: ")
    assert "\n" not in found["fold_huge"]["reason"]
    text = "\n".join(lines)
    assert "3 variants, 1 ok, 2 failed" in text
    assert f"  fold_typo: {found['fold_typo']['reason']}" in text
