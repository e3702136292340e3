"""Decoding an AGC clip on the co-processor, GOP by GOP, as a receiver does.

The bitstream is parsed by the codec's decode side (HEIF key frames, FP16 keypoints); each frame
then runs the program with its GOP's key frame and keypoints, the key-phase instructions on the
first frame of each GOP only. The prediction of every frame is what the co-processor computed
(uint8 [3, H, W]); its sha256 is what validation compares with the golden model's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np


def frame_inputs(clip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(key frame, source keypoints, driving keypoints) of every frame of a DecodedClip."""
    keypoints = clip.keypoints.astype(np.float16)
    key_index = np.arange(clip.frame_count) // clip.gop
    return clip.key_frames[key_index], keypoints[key_index * clip.gop], keypoints


def decode_frames(runner, clip, *, every_tensor: bool = False) -> Iterator[tuple[dict, dict]]:
    """Run every frame of ``clip`` on ``runner``: (outputs, tensors) per frame, in order."""
    sources, kp_sources, keypoints = frame_inputs(clip)
    for t in range(clip.frame_count):
        yield runner.run_decoder(sources[t], kp_sources[t], keypoints[t],
                                 every_tensor=every_tensor, new_key_frame=t % clip.gop == 0)


def frame_sha256(prediction: np.ndarray) -> str:
    """sha256 of a prediction's bytes as the co-processor wrote them (uint8 [3, H, W], C order)."""
    return hashlib.sha256(np.ascontiguousarray(prediction, dtype=np.uint8).tobytes()).hexdigest()
