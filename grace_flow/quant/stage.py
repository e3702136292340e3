"""The quantize stage: float checkpoint → fused int8 graph (the golden model's input), quality."""

from __future__ import annotations

import json
from pathlib import Path

from grace_flow.fsutil import atomic_write_text

def quantize_model(checkpoint: Path, clips_path: Path, qgraph_json: Path, qparams_npz: Path,
                   quality_json: Path, *, frame_size: int, observer: str, percentile: float,
                   calibration_pairs: int, accumulator_bits: int, gop: int) -> dict:
    """Fuse, calibrate, quantize, check accumulators, evaluate; write the quantized graph (JSON
    + arrays) and its quality report; return the quality.

    Calibration pairs come from the calibration split, quality pairs from the test split, both
    as (GOP key frame, other frame of the GOP) with FP16 keypoints.
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
    qgraph.save(qgraph_json, qparams_npz)
    atomic_write_text(quality_json, json.dumps(quality, indent=1) + "\n")
    return quality
