"""Calibration: observe the float range of every int8 tensor on key-frame / driving-frame pairs.

The pairs are what the decoder sees in use: the source is the key frame of a GOP (frame 0, gop,
2·gop, ...), the driving frame another frame of the same GOP, and both keypoint sets come from the
keypoint detector rounded to FP16 exactly as the codec transmits them. Each int8 tensor gets an
observer that reduces its values to one clipping magnitude ``amax`` (scale = amax / 127).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from grace_flow.errors import FlowError
from grace_flow.quant.float_exec import _conv, run_float
from grace_flow.quant.graph import FusedGraph

#: Observer names accepted by ``quantize.observer``.
OBSERVERS = ("minmax", "histogram", "percentile")
#: Ops whose output is an int8 activation at a per-tensor scale (the others have fixed formats).
INT8_OPS = ("conv", "affine", "grid_sample", "concat", "mul_map", "heatmap")
#: Smallest amax used: an all-zero tensor (a dead ReLU) still needs a valid scale.
MIN_AMAX = 2.0**-12
#: Bins of the percentile observer's |x| histogram.
PERCENTILE_BINS = 4096


class CalibrationError(FlowError):
    """A bad ``quantize:`` setting or an empty calibration set."""


class _TorchObserver:
    """torch.ao MinMaxObserver or HistogramObserver (MSE search), symmetric int8."""

    def __init__(self, kind):
        self.observer = kind(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)

    def observe(self, values: torch.Tensor) -> None:
        self.observer(values.detach().float().flatten())

    def amax(self) -> float:
        if isinstance(self.observer, torch.ao.quantization.observer.MinMaxObserver):
            return max(-float(self.observer.min_val), float(self.observer.max_val))
        # torch's symmetric scale maps amax to (qmax - qmin) / 2 = 127.5 codes.
        scale, _ = self.observer.calculate_qparams()
        return float(scale) * 127.5


class PercentileObserver:
    """The ``percentile``-th percentile of |x| over all observed values.

    One pass: a histogram of |x| over [0, top) whose range doubles (merging bin pairs) when a
    larger value arrives, so the quantile is exact to one bin (top / 4096).
    """

    def __init__(self, percentile: float):
        self.percentile = percentile
        self.counts = np.zeros(PERCENTILE_BINS, dtype=np.int64)
        self.top = 0.0

    def observe(self, values: torch.Tensor) -> None:
        magnitudes = values.detach().abs().double().flatten().numpy()
        largest = float(magnitudes.max(initial=0.0))
        if self.top == 0.0:
            self.top = max(largest, MIN_AMAX)
        while largest > self.top:
            self.counts = np.concatenate([self.counts.reshape(-1, 2).sum(1),
                                          np.zeros(PERCENTILE_BINS // 2, np.int64)])
            self.top *= 2
        bins = np.minimum((magnitudes / self.top * PERCENTILE_BINS).astype(np.int64),
                          PERCENTILE_BINS - 1)
        self.counts += np.bincount(bins, minlength=PERCENTILE_BINS)

    def amax(self) -> float:
        cumulative = np.cumsum(self.counts)
        wanted = self.percentile / 100 * cumulative[-1]
        last_bin = int(np.searchsorted(cumulative, wanted))  # first bin reaching the quantile
        return (last_bin + 1) * self.top / PERCENTILE_BINS


def make_observer(name: str, percentile: float):
    """A fresh observer called ``name`` (in OBSERVERS); "percentile" uses ``percentile``."""
    if name == "minmax":
        return _TorchObserver(torch.ao.quantization.observer.MinMaxObserver)
    if name == "histogram":
        return _TorchObserver(torch.ao.quantization.observer.HistogramObserver)
    if name == "percentile":
        if not 0 < percentile <= 100:
            raise CalibrationError(f"quantize.percentile: {percentile!r} is not in (0, 100]: "
                                   "use e.g. 99.99")
        return PercentileObserver(percentile)
    raise CalibrationError(f"quantize.observer: unknown observer {name!r}: use one of "
                           f"{', '.join(OBSERVERS)}")


def int8_tensors(graph: FusedGraph) -> list[str]:
    """Names of the int8 activations of ``graph`` (the source image has a fixed table)."""
    return [n.output for n in graph.nodes if n.op in INT8_OPS]


def select_pairs(clip_count: int, frame_count: int, gop: int, count: int) -> np.ndarray:
    """``count`` (clip, key frame, driving frame) rows spread evenly over all non-key frames."""
    if count < 1:
        raise CalibrationError(f"quantize.calibration_pairs: {count!r}: use an integer >= 1")
    rows = [(c, t // gop * gop, t) for c in range(clip_count) for t in range(frame_count)
            if t % gop]
    if not rows:
        raise CalibrationError("data.clips.calibration: no key/driving frame pairs (no clips, "
                               "or one frame per GOP): add calibration clips or frames")
    picks = np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int))
    return np.asarray(rows, dtype=np.int64)[picks]


def fp16_keypoints(kp_detector, clips: np.ndarray) -> np.ndarray:
    """FP16 keypoints [N, T, K, 2] of uint8 clips [N, T, H, W, 3], as the codec transmits them."""
    from grace_flow.model.inference import detect_keypoints

    return np.stack([detect_keypoints(kp_detector, clip).astype(np.float16) for clip in clips])


def pair_inputs(clips: np.ndarray, keypoints: np.ndarray, rows: np.ndarray):
    """(source uint8 [P,H,W,3], kp_source fp16 [P,K,2], kp_driving fp16, driving uint8 frames)."""
    clip, key, driving = rows.T
    return (clips[clip, key], keypoints[clip, key], keypoints[clip, driving],
            clips[clip, driving])


def float_inputs(source: np.ndarray, kp_source: np.ndarray, kp_driving: np.ndarray):
    """The float model's view of uint8 frames and FP16 keypoints (NCHW in [0, 1], float32)."""
    image = torch.from_numpy(np.ascontiguousarray(source)).float().div_(255.0).movedim(-1, -3)
    return (image, torch.from_numpy(kp_source.astype(np.float32)),
            torch.from_numpy(kp_driving.astype(np.float32)))


def _observed_values(graph: FusedGraph, values: dict, tensor: str) -> torch.Tensor:
    node = graph.producer(tensor)
    if node.op == "conv" and node.attrs["pool"]:
        # The requantization happens before the pool, on a wider range than the pooled output.
        unpooled = dataclasses.replace(node, attrs={**node.attrs, "pool": False})
        return _conv(unpooled, graph, values)
    return values[tensor]


def calibrate(graph: FusedGraph, clips: np.ndarray, keypoints: np.ndarray, rows: np.ndarray, *,
              observer: str, percentile: float, batch: int = 16) -> dict[str, float]:
    """amax of every int8 tensor of ``graph`` over the pairs ``rows`` (from select_pairs).

    clips: uint8 [N, T, H, W, 3]; keypoints: FP16 [N, T, K, 2] (fp16_keypoints).
    """
    observers = {name: make_observer(observer, percentile) for name in int8_tensors(graph)}
    if len(rows) == 0:
        raise CalibrationError("data.clips.calibration: no calibration pairs: add clips")
    for start in range(0, len(rows), batch):
        source, kp_source, kp_driving, _ = pair_inputs(clips, keypoints, rows[start:start + batch])
        values = run_float(graph, *float_inputs(source, kp_source, kp_driving))
        with torch.no_grad():
            for name, obs in observers.items():
                obs.observe(_observed_values(graph, values, name))
    return {name: max(obs.amax(), MIN_AMAX) for name, obs in observers.items()}
