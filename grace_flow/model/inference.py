"""Running the float model on frames: tensor conversion, keypoint detection, frame rebuilding.

Shared by the stages that run the float decoder or keypoint detector (codec, quantize, and the
float quality), so that each converts frames and keypoints the same way.
"""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 [..., H, W, 3] frames → float NCHW in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255.0)
    return tensor.movedim(-1, -3)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float NCHW in [0, 1] → uint8 NHWC, rounded."""
    array = images.clamp(0, 1).mul(255).round().to(torch.uint8)
    return array.permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def detect_keypoints(kp_detector, frames: np.ndarray, batch: int = 64) -> np.ndarray:
    """Keypoints [T, K, 2] of uint8 frames [T, H, W, 3], in [-1, 1] (x, y)."""
    parts = [kp_detector(to_tensor(frames[i:i + batch])) for i in range(0, len(frames), batch)]
    return torch.cat(parts).numpy()


@torch.no_grad()
def reconstruct(decoder, clip) -> np.ndarray:
    """Rebuild every frame of a decoded bitstream ``clip`` with ``decoder``: uint8 [T, H, W, 3]."""
    keypoints = torch.from_numpy(clip.keypoints.astype(np.float32))
    starts = np.arange(clip.frame_count) // clip.gop * clip.gop
    source = to_tensor(clip.key_frames[starts // clip.gop])
    prediction = decoder(source, keypoints[starts], keypoints)["prediction"]
    frames = to_uint8(prediction)
    frames[starts == np.arange(clip.frame_count)] = clip.key_frames
    return frames
