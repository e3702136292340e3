"""Time the integer golden model against the PyTorch float decoder, per frame.

Usage: .venv/bin/python bench/golden.py
Random-init decoders at the geometry of workflow.yaml and of workflows/vox256.yaml, one frame;
calibrated with minmax on that frame. After a warm-up run each (torch's first call initialises
its kernels), the fastest of at least MIN_RUNS runs of each is taken, more while they fit in
BUDGET_S (the machine is shared: the minimum is the least disturbed, and a frame of the default
geometry takes milliseconds, so three runs rarely include an undisturbed one). Prints golden
s/frame, float s/frame and the ratio.
"""

from __future__ import annotations

import time

import torch

from decoder_setup import WORKFLOWS, fastest, random_decoder
from grace_flow.quant.calibrate import float_inputs
from grace_flow.quant.golden import run_golden

MIN_RUNS, BUDGET_S = 3, 2.0


def fastest_in_budget(run) -> float:
    """fastest() over as many runs as fit in BUDGET_S (at least MIN_RUNS), timed on the run
    after a warm-up."""
    run(0)
    start = time.perf_counter()
    run(0)
    return fastest(run, max(MIN_RUNS, int(BUDGET_S / (time.perf_counter() - start))))


def measure(workflow_path) -> tuple[float, float]:
    """(golden seconds, float seconds) for one frame of a random-init decoder."""
    decoder, clips, keypoints, qgraph = random_decoder(workflow_path, 1)
    inputs = clips[:, 0], keypoints[:, 0], keypoints[:, 1]

    def float_frame(_: int) -> None:
        with torch.no_grad():
            decoder(*float_inputs(*inputs))

    return fastest_in_budget(lambda _: run_golden(qgraph, *inputs)), fastest_in_budget(float_frame)


def main() -> None:
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'geometry':<16}{'golden s/frame':>16}{'float s/frame':>16}{'ratio':>10}")
    for name, path in WORKFLOWS.items():
        golden, real = measure(path)
        print(f"{name:<16}{golden:>16.4f}{real:>16.4f}{golden / real:>10.2f}")


if __name__ == "__main__":
    main()
