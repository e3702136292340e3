"""Incremental rebuilds of the default workflow, measured in one run in a copy of the project.

    .venv/bin/python bench/incremental.py [workflow.yaml]

Prints the full build's time, the no-op `doit` and `doit list` times (median of 5; goal 0.5 s
each), and each edit's rebuild time ÷ the full build's: one engine's unroll (goal 0.2), one
stage's Python code (a comment in grace_flow/compile/lower.py), and an algorithm edit the
engines serve (one more residual block: the model retrains, so it costs about a full build).
After each edit but the last the workflow is restored and rebuilt, untimed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from doit_helpers import copy_project, run_project  # noqa: E402


def timed(project: Path, *args: str) -> tuple[float, list[str]]:
    """Seconds of one doit run in ``project`` and the tasks it executed."""
    start = time.perf_counter()
    run = run_project(project, *args, timeout=None)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"incremental.py: doit {' '.join(args)} failed:\n{run.stdout[-2000:]}")
    return seconds, run.executed


def edit(path: Path, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` in ``path``; return the original text."""
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"incremental.py: {old!r} not in {path}")
    path.write_text(text.replace(old, new, 1))
    return text


def main(workflow: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project = copy_project(Path(scratch) / "project")
        (project / "workflow.yaml").write_text(workflow.read_text())
        full, ran = timed(project)
        print(f"full build: {full:.1f} s ({len(ran)} tasks)")
        for args, label in (((), "no-op doit"), (("list",), "doit list")):
            times = [timed(project, *args)[0] for _ in range(5)]
            print(f"{label}: {statistics.median(times):.3f} s (median of 5; goal 0.5 s)")
        edits = [
            ("one engine's unroll", project / "workflow.yaml",
             "grid_sample: {unroll_channels: 4", "grid_sample: {unroll_channels: 2", "0.2"),
            ("one stage's code", project / "grace_flow" / "compile" / "lower.py",
             "\n", "\n# an edit\n", None),
            ("algorithm edit (one more residual block)", project / "workflow.yaml",
             "num_bottleneck_blocks: 3", "num_bottleneck_blocks: 4", None),
        ]
        for number, (label, path, old, new, goal) in enumerate(edits):
            original = edit(path, old, new)
            seconds, ran = timed(project)
            note = f"; goal {goal}" if goal else ""
            print(f"{label}: {seconds:.1f} s, {seconds / full:.3f} of the full build{note} "
                  f"({len(ran)} tasks: {', '.join(ran)})")
            if number < len(edits) - 1:
                path.write_text(original)
                timed(project)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "workflow.yaml").resolve())
