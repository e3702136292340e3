"""Quality of the int8 decoder: golden vs float vs original frames, and SQNR per layer.

Inputs are what a receiver has: the key frame (the original image here, not the HEVC-decoded one,
so the figures isolate quantization) and FP16 keypoints. The per-layer SQNR compares each float
activation with the dequantized golden activation of the same inputs, so it shows where the
error of the whole int8 pipeline up to that layer stands.
"""

from __future__ import annotations

import numpy as np

from grace_flow.quant.calibrate import float_inputs, pair_inputs
from grace_flow.quant.float_exec import run_float
from grace_flow.quant.golden import run_golden
from grace_flow.quant.graph import FusedGraph
from grace_flow.quant.qgraph import QuantizedGraph, dequantize

#: int8 vs float PSNR the default workflow must reach (issue 3).
TARGET_PSNR_DB = 35.0
#: How many of the lowest-SQNR layers the report flags.
WORST_LAYERS = 5


def sqnr_db(signal_energy: float, noise_energy: float) -> float:
    """10 log10(signal / noise), capped at 200 dB for an exact match."""
    if noise_energy == 0:
        return 200.0
    return float(10 * np.log10(max(signal_energy, 1e-30) / noise_energy))


def _pixels(prediction: np.ndarray) -> np.ndarray:
    """Float NCHW in [0, 1] → uint8 NHWC, as the float decoder's frames are shown."""
    return np.clip(np.round(prediction * 255), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def _image_scores(reference: np.ndarray, images: np.ndarray) -> tuple[float, float]:
    from grace_flow.metrics import psnr, ssim

    scores = np.array([(psnr(r, i), ssim(r, i)) for r, i in zip(reference, images)])
    return round(float(scores[:, 0].mean()), 3), round(float(scores[:, 1].mean()), 4)


def evaluate(graph: FusedGraph, qgraph: QuantizedGraph, clips: np.ndarray, keypoints: np.ndarray,
             rows: np.ndarray, batch: int = 16) -> dict:
    """PSNR/SSIM (int8 vs float, each vs original) and per-layer SQNR over the pairs ``rows``."""
    tensors = [name for name in qgraph.formats if name not in ("kp_source", "kp_driving")]
    energy = {name: [0.0, 0.0] for name in tensors}
    frames = {"int8": [], "float": [], "original": []}
    for start in range(0, len(rows), batch):
        source, kp_source, kp_driving, driving = pair_inputs(clips, keypoints,
                                                             rows[start:start + batch])
        real = run_float(graph, *float_inputs(source, kp_source, kp_driving))
        golden = run_golden(qgraph, source, kp_source, kp_driving)
        for name in tensors:
            reference = real[name].numpy().astype(np.float64)
            error = reference - dequantize(golden[name], qgraph.formats[name])
            energy[name][0] += float((reference**2).sum())
            energy[name][1] += float((error**2).sum())
        prediction = qgraph.outputs["prediction"]
        frames["int8"].append(golden[prediction].transpose(0, 2, 3, 1))
        frames["float"].append(_pixels(real[prediction].numpy()))
        frames["original"].append(driving)
    images = {key: np.concatenate(value) for key, value in frames.items()}
    layers = [{"tensor": name, "op": graph.producer(name).op if graph.producer(name) else "input",
               "sqnr_db": round(sqnr_db(*energy[name]), 2)} for name in tensors]
    psnr_if, ssim_if = _image_scores(images["float"], images["int8"])
    psnr_fo, ssim_fo = _image_scores(images["original"], images["float"])
    psnr_io, ssim_io = _image_scores(images["original"], images["int8"])
    return {
        "pairs": int(len(rows)),
        "int8_vs_float": {"psnr_db": psnr_if, "ssim": ssim_if},
        "float_vs_original": {"psnr_db": psnr_fo, "ssim": ssim_fo},
        "int8_vs_original": {"psnr_db": psnr_io, "ssim": ssim_io},
        "target_psnr_db": TARGET_PSNR_DB,
        "meets_target": psnr_if >= TARGET_PSNR_DB,
        "worst_layers": [row["tensor"] for row in sorted(layers, key=lambda r: r["sqnr_db"])
                         [:WORST_LAYERS]],
        "layer_sqnr": layers,
    }
