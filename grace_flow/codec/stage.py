"""The codec stage: the encoder side of the test clips (keypoints detected, bitstreams written),
and the float decoder's quality through those bitstreams.

Float quality: each test clip goes through the real bitstream, so the decoder sees the
HEVC-decoded key frame and the FP16 keypoints, never the originals. Key-frame positions show the
decoded key frame itself (what an AGC receiver displays); the other frames are the decoder's
predictions, and the headline figures are over those predicted frames, where decoder and
baseline differ.
"""

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


def float_quality(
    checkpoint: Path, clips_path: Path, bitstreams: list[Path], out_path: Path
) -> dict:
    """Write PSNR / SSIM of the decoder and of the key-frame baseline on the test clips."""
    from grace_flow.codec.files import decode_file
    from grace_flow.data import load_split
    from grace_flow.metrics import psnr, ssim
    from grace_flow.model import load_checkpoint
    from grace_flow.model.inference import reconstruct

    decoder, _ = load_checkpoint(checkpoint)
    originals, _ = load_split(clips_path, "test")
    rows = {"decoder": [], "repeat_key_frame": []}
    predicted = []
    for original, path in zip(originals, bitstreams):
        clip = decode_file(path)
        starts = np.arange(clip.frame_count) // clip.gop * clip.gop
        candidates = {
            "decoder": reconstruct(decoder, clip),
            "repeat_key_frame": clip.key_frames[starts // clip.gop],
        }
        for name, frames in candidates.items():
            rows[name].append([(psnr(o, f), ssim(o, f)) for o, f in zip(original, frames)])
        predicted.append(starts != np.arange(clip.frame_count))
    mask = np.concatenate(predicted)
    report = {
        "clips": len(bitstreams),
        "frames": int(mask.size),
        "predicted_frames": int(mask.sum()),
    }
    for name, per_clip in rows.items():
        scores = np.concatenate([np.asarray(r) for r in per_clip])
        report[name] = {
            "psnr_db": round(float(scores[mask, 0].mean()), 3),
            "ssim": round(float(scores[mask, 1].mean()), 4),
            "psnr_db_all_frames": round(float(scores[:, 0].mean()), 3),
            "ssim_all_frames": round(float(scores[:, 1].mean()), 4),
        }
    report["psnr_gain_db"] = round(
        report["decoder"]["psnr_db"] - report["repeat_key_frame"]["psnr_db"], 3
    )
    atomic_write_text(out_path, json.dumps(report, indent=2) + "\n")
    return report
