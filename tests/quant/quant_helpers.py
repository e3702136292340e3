"""Tiny random decoders, clips and their quantized graphs for the quantize-stage tests."""

import numpy as np

from grace_flow.quant import calibrate as cal
from grace_flow.quant.fuse import fuse
from grace_flow.quant.ptq import quantize_graph
from test_fuse import GEOMETRY, random_decoder

SIZE = 32
KP = GEOMETRY["num_kp"]


def random_clips(clips=2, frames=4, seed=0):
    """uint8 clips [N, T, 32, 32, 3] and FP16 keypoints [N, T, K, 2] drifting around a start."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (clips, frames, SIZE, SIZE, 3), dtype=np.uint8)
    start = rng.uniform(-0.7, 0.7, (clips, 1, KP, 2))
    keypoints = start + rng.normal(0, 0.08, (clips, frames, KP, 2))
    return images, keypoints.astype(np.float16)


def tiny_quantized(observer="minmax", seed=0, gop=2):
    """(fused graph, quantized graph, clips, keypoints) of a random tiny decoder."""
    graph = fuse(random_decoder(seed), SIZE)
    clips, keypoints = random_clips()
    rows = cal.select_pairs(len(clips), clips.shape[1], gop, 8)
    amax = cal.calibrate(graph, clips, keypoints, rows, observer=observer, percentile=99.9)
    return graph, quantize_graph(graph, amax), clips, keypoints
