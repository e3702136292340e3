"""Time the integer golden model against the PyTorch float decoder, per frame.

Usage: .venv/bin/python bench/golden.py
Random-init decoders at the geometry of workflow.yaml and of workflows/vox256.yaml, one frame;
calibrated with minmax on that frame. After a warm-up run each (torch's first call initialises
its kernels), the fastest of RUNS runs of each is taken (the machine is shared: the minimum is the
least disturbed). Prints golden s/frame, float s/frame and the ratio.
"""

from __future__ import annotations

import torch

from decoder_setup import WORKFLOWS, fastest, random_decoder
from grace_flow.quant.calibrate import float_inputs
from grace_flow.quant.golden import run_golden

RUNS = 3


def measure(workflow_path) -> tuple[float, float]:
    """(golden seconds, float seconds) for one frame of a random-init decoder."""
    decoder, clips, keypoints, qgraph = random_decoder(workflow_path, 1)
    inputs = clips[:, 0], keypoints[:, 0], keypoints[:, 1]

    def float_frame(_: int) -> None:
        with torch.no_grad():
            decoder(*float_inputs(*inputs))

    return fastest(lambda _: run_golden(qgraph, *inputs), RUNS), fastest(float_frame, RUNS)


def main() -> None:
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'geometry':<16}{'golden s/frame':>16}{'float s/frame':>16}{'ratio':>10}")
    for name, path in WORKFLOWS.items():
        golden, real = measure(path)
        print(f"{name:<16}{golden:>16.4f}{real:>16.4f}{golden / real:>10.2f}")


if __name__ == "__main__":
    main()
