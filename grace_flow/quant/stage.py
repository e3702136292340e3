"""The quantize stage: float checkpoint → fused and int8 graphs, golden vectors, quality."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grace_flow.fsutil import atomic_save_npz, atomic_write_text

#: Test pairs whose every golden tensor goes to golden_vectors.npz (the C-sim references).
GOLDEN_PAIRS = 4

#: Files written into ``out_dir`` by quantize_model.
OUTPUTS = ("fused_graph.json", "fused_params.npz", "quantized_graph.json", "quantized_params.npz",
           "golden_vectors.npz", "quality.json")


def golden_vectors(qgraph, source, kp_source, kp_driving) -> dict[str, np.ndarray]:
    """Inputs (``input.*``) and every golden tensor (``tensor.<name>``) of a few pairs."""
    from grace_flow.quant.golden import run_golden

    values = run_golden(qgraph, source, kp_source, kp_driving)
    return {"input.source_u8": source, "input.kp_source_fp16": kp_source,
            "input.kp_driving_fp16": kp_driving,
            **{f"tensor.{name}": array for name, array in values.items()}}


def quantize_model(checkpoint: Path, clips_path: Path, out_dir: Path, *, frame_size: int,
                   observer: str, percentile: float, calibration_pairs: int,
                   accumulator_bits: int, gop: int) -> dict:
    """Fuse, calibrate, quantize, check accumulators, evaluate; write OUTPUTS; return quality.

    Calibration pairs come from the calibration split, quality and golden vectors from the test
    split, both as (GOP key frame, other frame of the GOP) with FP16 keypoints.
    """
    from grace_flow.data import load_split
    from grace_flow.model import load_checkpoint
    from grace_flow.quant import calibrate as cal
    from grace_flow.quant.fuse import fuse
    from grace_flow.quant.overflow import check_accumulators
    from grace_flow.quant.ptq import QuantizationError, quantize_graph
    from grace_flow.quant.quality import evaluate

    decoder, kp_detector = load_checkpoint(checkpoint)
    graph = fuse(decoder, frame_size)
    splits = {}
    for split in ("calibration", "test"):
        frames, _ = load_split(clips_path, split)
        if frames.size and frames.shape[2] != frame_size:
            raise QuantizationError(f"{clips_path}: clips are {frames.shape[2]} pixels, "
                                    f"data.frame_size is {frame_size}: rebuild the data set")
        splits[split] = (frames, cal.fp16_keypoints(kp_detector, frames))
    frames, keypoints = splits["calibration"]
    rows = cal.select_pairs(len(frames), frames.shape[1], gop, calibration_pairs)
    amax = cal.calibrate(graph, frames, keypoints, rows, observer=observer, percentile=percentile)
    qgraph = quantize_graph(graph, amax)
    accumulators = check_accumulators(qgraph, accumulator_bits)

    frames, keypoints = splits["test"]
    every_pair = frames.shape[0] * frames.shape[1]
    test_rows = cal.select_pairs(len(frames), frames.shape[1], gop, every_pair)
    quality = {
        "observer": observer,
        "percentile": percentile if observer == "percentile" else None,
        "calibration_pairs": int(len(rows)),
        "accumulator_bits": accumulator_bits,
        **evaluate(graph, qgraph, frames, keypoints, test_rows),
        "accumulators": accumulators,
    }
    source, kp_source, kp_driving, _ = cal.pair_inputs(frames, keypoints, test_rows[:GOLDEN_PAIRS])

    out_dir = Path(out_dir)
    graph.save(out_dir / "fused_graph.json", out_dir / "fused_params.npz")
    qgraph.save(out_dir / "quantized_graph.json", out_dir / "quantized_params.npz")
    atomic_save_npz(out_dir / "golden_vectors.npz",
                    **golden_vectors(qgraph, source, kp_source, kp_driving))
    atomic_write_text(out_dir / "quality.json", json.dumps(quality, indent=1) + "\n")
    return quality
