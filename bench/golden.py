"""Time the integer golden model against the PyTorch float decoder, per frame.

Usage: .venv/bin/python bench/golden.py
Random-init decoders at the geometry of workflow.yaml and of workflows/vox256.yaml, one frame, one
run each; calibrated with minmax on that frame. Prints golden s/frame, float s/frame and the ratio.
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
    start = time.perf_counter()
    with torch.no_grad():
        decoder(*float_inputs(*inputs))
    float_seconds = time.perf_counter() - start
    start = time.perf_counter()
    run_golden(qgraph, *inputs)
    return time.perf_counter() - start, float_seconds


def main() -> None:
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'geometry':<16}{'golden s/frame':>16}{'float s/frame':>16}{'ratio':>10}")
    for name, path in WORKFLOWS.items():
        golden, real = measure(*workflow_geometry(path))
        print(f"{name:<16}{golden:>16.3f}{real:>16.4f}{golden / real:>10.1f}")


if __name__ == "__main__":
    main()
