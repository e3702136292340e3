"""The codec stage: the encoder side of the test clips (keypoints detected, bitstreams written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grace_flow.fsutil import atomic_write_text


def encode_test_clips(checkpoint: Path, clips_path: Path, out_paths: list[Path],
                      report_path: Path, *, gop: int, fps: float, quality: int) -> dict:
    """Encode each test clip to its bitstream in ``out_paths``; write the bitrate report."""
    from grace_flow.codec import bitrate, encode_file
    from grace_flow.data import load_split
    from grace_flow.model import load_checkpoint
    from grace_flow.model.inference import detect_keypoints

    _, kp_detector = load_checkpoint(checkpoint)
    frames, _ = load_split(clips_path, "test")
    per_clip = []
    for clip, path in zip(frames, out_paths):
        encode_file(path, clip, detect_keypoints(kp_detector, clip), gop=gop, fps=fps,
                    quality=quality)
        frame_count, height, width = clip.shape[:3]
        per_clip.append(bitrate(Path(path).read_bytes(), frame_count=frame_count, width=width,
                                height=height, fps=fps))
    report = {
        "clips": len(per_clip),
        "gop": gop,
        "fps": fps,
        "key_frame_quality": quality,
        "mean_bits_per_pixel": round(float(np.mean([c["bits_per_pixel"] for c in per_clip])), 5),
        "mean_kbps": round(float(np.mean([c["kbps"] for c in per_clip])), 3),
        "per_clip": per_clip,
    }
    atomic_write_text(report_path, json.dumps(report, indent=2) + "\n")
    return report
