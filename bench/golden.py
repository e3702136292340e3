"""Time the integer golden model against the PyTorch float decoder, per frame.

Usage: .venv/bin/python bench/golden.py
Random-init decoders at the geometry of workflow.yaml and of workflows/vox256.yaml, one frame;
calibrated with minmax on that frame. After a warm-up run each (torch's first call initialises
its kernels), the fastest of RUNS runs of each is taken (the machine is shared: the minimum is the
least disturbed). Prints golden s/frame, float s/frame and the ratio.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from grace_flow.model import AGCDecoder
from geometry import workflow_geometry
from grace_flow.quant.calibrate import calibrate, float_inputs
from grace_flow.quant.fuse import fuse
from grace_flow.quant.golden import run_golden
from grace_flow.quant.ptq import quantize_graph

REPO = Path(__file__).resolve().parents[1]
RUNS = 3
WORKFLOWS = {"default": REPO / "workflow.yaml", "vox-256": REPO / "workflows" / "vox256.yaml"}


def measure(size: int, geometry: dict) -> tuple[float, float]:
    """(golden seconds, float seconds) for one frame of a random-init decoder."""
    torch.manual_seed(0)
    decoder = AGCDecoder(**geometry).eval()
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (1, 2, size, size, 3), dtype=np.uint8)
    keypoints = rng.uniform(-0.8, 0.8, (1, 2, geometry["num_kp"], 2)).astype(np.float16)
    graph = fuse(decoder, size)
    qgraph = quantize_graph(graph, calibrate(graph, clips, keypoints, np.array([[0, 0, 1]]),
                                             observer="minmax", percentile=100.0))
    inputs = clips[:, 0], keypoints[:, 0], keypoints[:, 1]

    def float_frame() -> None:
        with torch.no_grad():
            decoder(*float_inputs(*inputs))

    return _fastest(lambda: run_golden(qgraph, *inputs)), _fastest(float_frame)


def _fastest(run) -> float:
    """Seconds of the fastest of RUNS calls of ``run``, after one warm-up call."""
    run()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'geometry':<16}{'golden s/frame':>16}{'float s/frame':>16}{'ratio':>10}")
    for name, path in WORKFLOWS.items():
        golden, real = measure(*workflow_geometry(path))
        print(f"{name:<16}{golden:>16.4f}{real:>16.4f}{golden / real:>10.2f}")


if __name__ == "__main__":
    main()
