"""Running doit on a workflow in a scratch folder and seeing what it executed."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TINY_WORKFLOW = """\
name: tiny
data:
  frame_size: 32
  frames_per_clip: 4
  clips: {train: 2, calibration: 1, test: 2}
model:
  source: init
  num_kp: 4
  kp_detector: {block_expansion: 4, max_features: 8, num_blocks: 2, scale_factor: 0.5}
  dense_motion: {block_expansion: 4, max_features: 8, num_blocks: 2, scale_factor: 0.5}
  generator: {block_expansion: 4, max_features: 8, num_down_blocks: 2, num_bottleneck_blocks: 1}
codec:
  gop: 2
quantize:
  calibration_pairs: 4
engines:
  conv: {unroll_in: 4, unroll_out: 4, tile_rows: 2}
  grid_sample: {unroll_channels: 4, band_rows: 8}
synth:
  toolchain: estimate
validate:
  min_psnr_db: null        # a random-init decoder: bit-exact, not good
"""


class DoitRun:
    """Result of one doit invocation: exit code, output, and the tasks it executed or skipped."""

    def __init__(self, completed: subprocess.CompletedProcess):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        lines = completed.stdout.splitlines()
        self.executed = sorted(line[2:].strip() for line in lines if line.startswith(". "))
        self.skipped = sorted(line[3:].strip() for line in lines if line.startswith("-- "))


def run_doit(folder: Path, *args: str, dodo: Path = REPO / "dodo.py", env=None,
             timeout: float | None = 600) -> DoitRun:
    """Run doit with ``dodo`` (the repo's dodo.py) inside ``folder``; a test's run is bounded
    by ``timeout`` seconds, a benchmark's full build (``None``) is not."""
    command = [sys.executable, "-m", "doit", "-f", str(dodo), "-d", str(folder), *args]
    return DoitRun(subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  env=env))


#: What a project copy holds: the code, the templates, the boards and the entry point.
PROJECT_PARTS = ("dodo.py", "grace_flow", "kernels", "constraints")


def copy_project(destination: Path, origin: Path = REPO) -> Path:
    """A copy of the code at ``origin`` (the repository) at ``destination``, so a test may edit
    its code."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = origin / part
        if source.is_dir():
            shutil.copytree(source, destination / part,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / part)
    return destination


def run_project(project: Path, *args: str, timeout: float | None = 600) -> DoitRun:
    """Run doit in a project copy, on the copy's code (it comes first on the import path)."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    return run_doit(project, *args, dodo=project / "dodo.py", env=env, timeout=timeout)


def kill_during(project: Path, task: str, delay: float, *args: str) -> bool:
    """Run doit in a project copy and SIGKILL it (its whole process group) ``delay`` seconds
    after it starts ``task``; True when the kill came before doit finished."""
    command = [sys.executable, "-m", "doit", "-f", str(project / "dodo.py"), "-d", str(project),
               *args]
    env = {**os.environ, "PYTHONPATH": str(project)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env=env, start_new_session=True)
    timer = None
    for line in process.stdout:
        if line.startswith(". ") and line[2:].strip() == task and timer is None:
            timer = threading.Timer(delay, os.killpg, (process.pid, signal.SIGKILL))
            timer.start()
    process.wait()
    if timer is not None:
        timer.cancel()
    return process.returncode == -signal.SIGKILL


def artifact_digests(root: Path, skip: set[str] = frozenset()) -> dict[str, str]:
    """sha256 of every file under ``root`` (doit's own database and ``skip`` aside)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()
            and not p.name.startswith(".doit.db") and str(p.relative_to(root)) not in skip}
