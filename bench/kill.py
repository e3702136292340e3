"""Crash safety: SIGKILL the flow at random points over its stages, finish it, compare artifacts.

    .venv/bin/python bench/kill.py [kills (20)] [seed (0)]

A tiny workflow (training included) is built once without interruption: the reference. Then,
for each kill, a fresh copy of the project runs doit and is SIGKILLed (the whole process group:
doit and any g++ it started) a random time after one task starts; the tasks take turns, so the
kills spread over every stage. A second doit run finishes the flow, and every file under
artifacts/<name>/ must equal the reference's byte for byte. The files of measured times (which
no task reads) are listed and left out of the comparison.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from doit_helpers import (TINY_WORKFLOW, artifact_digests, copy_project,  # noqa: E402
                          kill_during, run_project)

WORKFLOW = TINY_WORKFLOW.replace("source: init", "source: train\n  train: {steps: 40, batch_size: 2}")
ARGS = ("workflow=w.yaml",)


def task_times(project: Path) -> dict[str, float]:
    """Build ``project`` uninterrupted; seconds from each task's start to the next one's."""
    command = [sys.executable, "-m", "doit", "-f", str(project / "dodo.py"), "-d", str(project),
               *ARGS]
    starts: list[tuple[str, float]] = []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(project)})
    for line in process.stdout:
        if line.startswith(". "):
            starts.append((line[2:].strip(), time.perf_counter()))
    if process.wait() != 0:
        raise SystemExit("kill.py: the uninterrupted reference run failed")
    ends = [t for _, t in starts[1:]] + [time.perf_counter()]
    return {task: end - start for (task, start), end in zip(starts, ends)}


def measured_files(project: Path) -> set[str]:
    """The artifacts of measured times, relative to the workflow's folder."""
    code = ("import json; from grace_flow.tasks import load_graph; g = load_graph('w.yaml'); "
            "print(json.dumps([str(p.relative_to(g.paths.root)) for p in g.paths.measured]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(project)})
    return set(json.loads(out.stdout))


def main(kills: int, seed: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        reference = copy_project(scratch / "reference")
        (reference / "w.yaml").write_text(WORKFLOW)
        durations = task_times(reference)
        skip = measured_files(reference)
        expected = artifact_digests(reference / "artifacts" / "tiny", skip)
        order = list(durations)
        rng.shuffle(order)
        divergent_total, killed_total = 0, 0
        print(f"reference: {len(durations)} tasks in {sum(durations.values()):.1f} s; "
              f"{len(expected)} artifacts compared; measured times, not compared: "
              f"{', '.join(sorted(skip))}")
        for number in range(kills):
            task = order[number % len(order)]
            delay = rng.uniform(0, durations[task])
            # From the reference's copy: the code under test stays the same even if the
            # working tree changes while the benchmark runs.
            project = copy_project(scratch / f"kill{number}", reference)
            (project / "w.yaml").write_text(WORKFLOW)
            killed = kill_during(project, task, delay, *ARGS)
            finish = run_project(project, *ARGS, timeout=None)
            got = artifact_digests(project / "artifacts" / "tiny", skip)
            divergent = sorted(name for name in expected.keys() | got.keys()
                               if expected.get(name) != got.get(name))
            divergent_total += len(divergent)
            killed_total += killed
            status = "killed" if killed else "finished before the kill"
            print(f"kill {number + 1:2d}: {task:18s} +{delay:6.2f} s, {status}; rerun "
                  f"{'ok' if finish.returncode == 0 else 'FAILED'} ({len(finish.executed)} tasks); "
                  f"divergent: {', '.join(divergent) or 'none'}")
            if finish.returncode != 0:
                divergent_total += 1
        print(f"\n{divergent_total} divergent artifacts over {kills} kills ({killed_total} killed "
              f"mid-flow)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20,
         int(sys.argv[2]) if len(sys.argv) > 2 else 0)
