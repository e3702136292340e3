"""Sweep test projects, and real Dask scheduler and worker processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from doit_helpers import TINY_WORKFLOW

#: The tiny workflow, trained for a few steps (so sharing the model is sharing a training run).
TRAINED_WORKFLOW = TINY_WORKFLOW.replace(
    "  source: init\n", "  source: train\n  train: {steps: 3, batch_size: 2, pyramid_scales: 1}\n")

#: Six variants: two keypoint counts (two models) × three conv foldings of each.
SIX_VARIANTS = """\
name: fold
workflow: w.yaml
grid:
  model.num_kp: [4, 5]
  engines.conv.unroll_out: [1, 2, 4]
"""

DASK = Path(sys.executable).with_name("dask")
#: torch's float reductions depend on its thread count; Dask's nanny gives every worker
#: OMP_NUM_THREADS=1, so nanny-less workers get it here to compute the same numbers.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def make_project(folder: Path, sweep: str = SIX_VARIANTS,
                 workflow: str = TRAINED_WORKFLOW) -> Path:
    """A project folder with the workflow ``w.yaml`` and the sweep file ``s.yaml``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "w.yaml").write_text(workflow)
    (folder / "s.yaml").write_text(sweep)
    return folder


def results(project: Path, sweep: str = "fold") -> dict[str, dict]:
    """The variants' results a sweep wrote, by name."""
    report = json.loads((project / "artifacts" / "sweeps" / sweep / "results.json").read_text())
    return {r["name"]: r for r in report["variants"]}


def run_cli(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m grace_flow.sweep s.yaml ARGS`` in ``project``."""
    return subprocess.run([sys.executable, "-m", "grace_flow.sweep", "s.yaml", *args],
                          cwd=project, capture_output=True, text=True, timeout=timeout)


class DaskProcesses:
    """A ``dask scheduler`` and ``dask worker`` processes, each known by its PID."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.address = ""

    def _start(self, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")
        return subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.folder, env=env)

    def start(self, workers: int, nanny: bool) -> None:
        scheduler_file = self.folder / "scheduler.json"
        self.scheduler = self._start("scheduler", "scheduler", "--host", "127.0.0.1",
                                     "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(scheduler_file))
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file():
            assert time.monotonic() < deadline, "the scheduler did not start"
            assert self.scheduler.poll() is None, (self.folder / "scheduler.log").read_text()
            time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for i in range(workers):
            self.workers.append(self._start(
                f"worker{i}", "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                "--name", f"w{i}", "--no-dashboard", "--nanny" if nanny else "--no-nanny",
                env=None if nanny else ONE_THREAD))

    def stop(self) -> None:
        """Terminate every process this object started, by PID; kill what does not stop."""
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in [*self.workers, self.scheduler]:
            if process is None:
                continue
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def dask_processes(folder: Path, workers: int = 2, nanny: bool = True) -> Iterator[DaskProcesses]:
    """A scheduler and ``workers`` workers on 127.0.0.1, all connected, stopped afterwards."""
    from distributed import Client

    processes = DaskProcesses(folder)
    try:
        processes.start(workers, nanny)
        with Client(processes.address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield processes
    finally:
        processes.stop()
