"""Float quality of the codec: decoded test clips vs the originals, next to "repeat the key frame".

Each test clip goes through the real bitstream: the decoder sees the HEVC-decoded key frame and the
FP16 keypoints, never the originals. Key-frame positions show the decoded key frame itself (that
is what an AGC receiver displays); the other frames are the decoder's predictions, and the headline
figures are over those predicted frames, where decoder and baseline differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from grace_flow.fsutil import atomic_write_text


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """PSNR in dB of uint8 ``image`` against ``reference`` (capped at 100 dB when identical)."""
    if np.array_equal(reference, image):
        return 100.0
    return float(peak_signal_noise_ratio(reference, image, data_range=255))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """SSIM of two uint8 HxWx3 images."""
    return float(structural_similarity(reference, image, channel_axis=-1, data_range=255))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float NCHW in [0, 1] → uint8 NHWC, rounded."""
    array = images.clamp(0, 1).mul(255).round().to(torch.uint8)
    return array.permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def reconstruct(decoder, clip) -> np.ndarray:
    """Rebuild every frame of a decoded bitstream ``clip`` with ``decoder``: uint8 [T, H, W, 3]."""
    from grace_flow.model.train import to_tensor

    keypoints = torch.from_numpy(clip.keypoints.astype(np.float32))
    starts = np.arange(clip.frame_count) // clip.gop * clip.gop
    source = to_tensor(clip.key_frames[starts // clip.gop])
    prediction = decoder(source, keypoints[starts], keypoints)["prediction"]
    frames = to_uint8(prediction)
    frames[starts == np.arange(clip.frame_count)] = clip.key_frames
    return frames


def float_quality(
    checkpoint: Path, clips_path: Path, bitstreams: list[Path], out_path: Path
) -> dict:
    """Write PSNR / SSIM of the decoder and of the key-frame baseline on the test clips."""
    from grace_flow.codec import decode_file
    from grace_flow.data import load_split
    from grace_flow.model import load_checkpoint

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
