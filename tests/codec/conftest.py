"""Shared fixture of the codec tests: one tiny encoded clip."""

import numpy as np
import pytest
from codec_clips import random_walk_keypoints, smooth_frames

from grace_flow.codec import encode_clip


@pytest.fixture(scope="session")
def tiny_clip() -> tuple[np.ndarray, np.ndarray, bytes]:
    """10 frames of 16x16 with 5 keypoints, GOP 4: frames, keypoints and the bitstream."""
    frames, keypoints = smooth_frames(10, 16, 16), random_walk_keypoints(10, 5)
    return frames, keypoints, encode_clip(frames, keypoints, gop=4, fps=25.0, quality=60)
