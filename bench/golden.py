"""Time the integer golden model against the PyTorch float decoder, per frame.

Usage: .venv/bin/python bench/golden.py
Random-init decoders at the geometry of workflow.yaml and of workflows/vox256.yaml, one frame;
calibrated with minmax on that frame. After a warm-up run each (torch's first call initialises
its kernels), golden and float runs alternate, at least MIN_RUNS of each and more while they fit
in BUDGET_S, and the fastest of each is taken: the machine is shared, the minimum is the least
disturbed run, and alternating exposes both to the same disturbances (timing one after the
other, a busy spell of a few seconds could fall on one of them only). Prints golden s/frame,
float s/frame and the ratio.
"""

from __future__ import annotations

import time

import torch

from decoder_setup import WORKFLOWS, random_decoder
from grace_flow.quant.calibrate import float_inputs
from grace_flow.quant.golden import run_golden

MIN_RUNS, BUDGET_S = 3, 4.0


def fastest_alternating(first, second) -> tuple[float, float]:
    """Seconds of the fastest call of ``first`` and of ``second``, called in turn after a warm-up
    each: at least MIN_RUNS pairs, more while they fit in BUDGET_S."""
    first(), second()
    times: tuple[list[float], list[float]] = ([], [])
    deadline = time.perf_counter() + BUDGET_S
    while len(times[0]) < MIN_RUNS or time.perf_counter() < deadline:
        for run, seconds in zip((first, second), times):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def measure(workflow_path) -> tuple[float, float]:
    """(golden seconds, float seconds) for one frame of a random-init decoder."""
    decoder, clips, keypoints, qgraph = random_decoder(workflow_path, 1)
    inputs = clips[:, 0], keypoints[:, 0], keypoints[:, 1]

    def float_frame() -> None:
        with torch.no_grad():
            decoder(*float_inputs(*inputs))

    return fastest_alternating(lambda: run_golden(qgraph, *inputs), float_frame)


def main() -> None:
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'geometry':<16}{'golden s/frame':>16}{'float s/frame':>16}{'ratio':>10}")
    for name, path in WORKFLOWS.items():
        golden, real = measure(path)
        print(f"{name:<16}{golden:>16.4f}{real:>16.4f}{golden / real:>10.2f}")


if __name__ == "__main__":
    main()
