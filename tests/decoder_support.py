"""Tiny random decoders, quantized on random frames, for the compile and decoder C-sim tests."""

import functools
import json

import numpy as np
import torch
from repo_paths import BOARD_FILE

from grace_flow.compile.stage import compile_program
from grace_flow.model import AGCDecoder
from grace_flow.quant import calibrate as cal
from grace_flow.quant.fuse import fuse
from grace_flow.quant.ptq import quantize_graph

SIZE = 32
GEOMETRY = dict(num_kp=4, num_channels=3, block_expansion=8, max_features=32, num_down_blocks=2,
                num_bottleneck_blocks=2, estimate_occlusion_map=True,
                dense_motion_params=dict(block_expansion=8, max_features=32, num_blocks=3,
                                         scale_factor=0.5, kp_variance=0.01))


def random_frames(count: int, kp: int, seed: int, size: int = SIZE):
    """uint8 key frames [N, size, size, 3] and FP16 source / driving keypoints [N, K, 2]."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    kp_source = rng.uniform(-0.8, 0.8, (count, kp, 2))
    kp_driving = kp_source + rng.normal(0, 0.1, (count, kp, 2))
    return images, kp_source.astype(np.float16), kp_driving.astype(np.float16)


@functools.lru_cache(maxsize=None)
def _quantized(changes_json: str, seed: int):
    changes = json.loads(changes_json)
    torch.manual_seed(seed)
    decoder = AGCDecoder(**{**GEOMETRY, **changes}).eval()
    for module in decoder.modules():  # non-trivial BN statistics, so folding is exercised
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    graph = fuse(decoder, SIZE)
    kp = decoder.geometry["num_kp"]
    images, kp_source, kp_driving = random_frames(8, kp, seed + 100)
    clips = np.stack([images, images], axis=1)  # [N, 2, H, W, 3]: (key frame, frame) pairs
    keypoints = np.stack([kp_source, kp_driving], axis=1)
    rows = cal.select_pairs(len(clips), 2, 2, 8)
    amax = cal.calibrate(graph, clips, keypoints, rows, observer="minmax", percentile=99.9)
    return quantize_graph(graph, amax)


def tiny_qgraph(seed: int = 0, **changes):
    """The QuantizedGraph of a random tiny decoder (GEOMETRY with ``changes``), cached."""
    return _quantized(json.dumps(changes, sort_keys=True), seed)


def compile_tiny(folder, qgraph, settings=None, alignment=64, board=BOARD_FILE, gop=1) -> dict:
    """Save ``qgraph`` in ``folder`` and run the compile stage into folder/compile."""
    qgraph.save(folder / "quantized_graph.json", folder / "quantized_params.npz")
    out = folder / "compile"
    engines = ("conv", "grid_sample", "upsample", "elementwise", "keypoint")
    return compile_program(folder / "quantized_graph.json", folder / "quantized_params.npz",
                           board, out / "program.bin", out / "program.json", out / "weights.bin",
                           out / "schedule.json", out / "pareto.json",
                           {e: out / "specs" / f"{e}.json" for e in engines},
                           {e: out / "requirements" / f"{e}.json" for e in engines},
                           engine_settings=settings or {}, clock_mhz=100.0, margin=0.1,
                           objective="latency", gop=gop, pixels=SIZE * SIZE, alignment=alignment)
