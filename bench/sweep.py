"""Wall time of one sweep on a LocalCluster of 1 worker ÷ on 2 workers, measured in one run.

Usage: .venv/bin/python bench/sweep.py [repeats]
The sweep: the tiny test workflow, trained for a few steps, with ``model.num_kp`` over 3..6 × two
conv foldings, so each keypoint count trains and quantizes once and its two foldings share that
through the store. Each run starts from scratch in a fresh project folder; the time is the sweep's
alone (its cluster is started before the clock starts). The two cluster sizes alternate
``repeats`` times (default 2) and each keeps its fastest run, since other work on the machine only
ever adds time.
"""

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from doit_helpers import TINY_WORKFLOW  # noqa: E402

from grace_flow.sweep.plan import load_plan  # noqa: E402
from grace_flow.sweep.run import sweep  # noqa: E402

WORKFLOW = TINY_WORKFLOW.replace(
    "  source: init\n", "  source: train\n  train: {steps: 3, batch_size: 2, pyramid_scales: 1}\n")


def timed_sweep(folder: Path, workers: int, keypoints: list[int]) -> tuple[float, int]:
    """Seconds of the sweep on ``workers`` local workers, and how many variants succeeded."""
    from distributed import Client, LocalCluster

    folder.mkdir()
    (folder / "w.yaml").write_text(WORKFLOW)
    (folder / "s.yaml").write_text(f"name: bench\nworkflow: w.yaml\ngrid:\n"
                                   f"  model.num_kp: {keypoints}\n"
                                   "  engines.conv.unroll_out: [2, 4]\n")
    os.chdir(folder)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        plan = load_plan("s.yaml")
        start = time.perf_counter()
        results = sweep(plan, client, echo=lambda line: None)
        seconds = time.perf_counter() - start
    os.chdir(REPO)
    return seconds, sum(r["status"] == "ok" for r in results)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    keypoints = [3, 4, 5, 6]
    variants = 2 * len(keypoints)
    times: dict[int, list[float]] = {1: [], 2: []}
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(repeats):
            for workers in (1, 2):
                seconds, ok = timed_sweep(Path(scratch) / f"{workers}_{repeat}", workers,
                                          keypoints)
                assert ok == variants, f"{variants - ok} variants failed"
                times[workers].append(seconds)
    print(f"sweep of {variants} variants ({len(keypoints)} models × 2 foldings), tiny workflow, "
          f"{os.cpu_count()} cores")
    for workers, runs in times.items():
        print(f"{workers} worker{'s' * (workers > 1)}: {min(runs):6.1f} s (runs: "
              f"{', '.join(f'{t:.1f}' for t in runs)} s)")
    print(f"wall time on 1 worker ÷ on 2 workers: {min(times[1]) / min(times[2]):.2f}")
    print(f"(load average, other work included: {before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after)")


if __name__ == "__main__":
    main()
