"""Quality of the frames the target decoded: against the originals and the float decoder.

The target returns the co-processor's prediction of every frame (uint8 [T, 3, H, W]); a receiver
shows the decoded key frame at a GOP's first frame instead, as model/quality.json assumes, so the
headline figures are over the predicted frames (where decoder and key frame differ), next to the
same figures of the float decoder. Per-frame PSNR (every frame) feeds the report's plot.
"""

from __future__ import annotations

import numpy as np

from grace_flow.metrics import psnr, ssim


def displayed(predictions: np.ndarray, shown_float: np.ndarray, gop: int) -> np.ndarray:
    """What a receiver shows: the target's predictions [T, 3, H, W] as [T, H, W, 3], with the
    decoded key frame (taken from the float clip, which shows it there too) at each GOP start."""
    frames = predictions.transpose(0, 2, 3, 1).copy()  # a copy: never write into the input
    keys = np.arange(len(frames)) % gop == 0
    frames[keys] = shown_float[keys]
    return frames


def _mean(values) -> float | None:
    return round(float(np.mean(values)), 3) if len(values) else None


def clip_quality(target: np.ndarray, shown_float: np.ndarray, original: np.ndarray,
                 gop: int) -> dict:
    """Per-frame PSNR / SSIM of one clip (every frame) and whether each frame is predicted."""
    rows = {"psnr_target": [], "psnr_float": [], "ssim_target": [], "ssim_float": [],
            "psnr_target_vs_float": [], "ssim_target_vs_float": []}
    for t, (mine, theirs, truth) in enumerate(zip(target, shown_float, original)):
        rows["psnr_target"].append(round(psnr(truth, mine), 3))
        rows["psnr_float"].append(round(psnr(truth, theirs), 3))
        rows["ssim_target"].append(round(ssim(truth, mine), 4))
        rows["ssim_float"].append(round(ssim(truth, theirs), 4))
        rows["psnr_target_vs_float"].append(round(psnr(theirs, mine), 3))
        rows["ssim_target_vs_float"].append(round(ssim(theirs, mine), 4))
    rows["predicted"] = [bool(t % gop) for t in range(len(target))]
    return rows


def summary(clips: list[dict]) -> dict:
    """Means over the predicted frames of every clip (and over all frames, for reference)."""
    def pooled(key: str, predicted_only: bool) -> list[float]:
        return [value for clip in clips for value, predicted in zip(clip[key], clip["predicted"])
                if predicted or not predicted_only]

    result = {"frames": sum(len(c["predicted"]) for c in clips),
              "predicted_frames": sum(sum(c["predicted"]) for c in clips)}
    for key in ("psnr_target", "psnr_float", "ssim_target", "ssim_float", "psnr_target_vs_float",
                "ssim_target_vs_float"):
        result[key] = _mean(pooled(key, True))
        result[f"{key}_all_frames"] = _mean(pooled(key, False))
    gap = None if result["psnr_target"] is None else result["psnr_float"] - result["psnr_target"]
    result["float_gap_db"] = None if gap is None else round(gap, 3)
    return result
