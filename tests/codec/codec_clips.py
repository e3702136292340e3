"""Small synthetic clips for the codec tests."""

import numpy as np


def smooth_frames(frames: int, height: int, width: int) -> np.ndarray:
    """A smooth, slowly moving colour pattern (what HEVC intra codes well)."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    clip = [
        np.stack([np.sin(5 * x + t / 4), np.cos(4 * y - t / 5), np.sin(3 * (x + y))], axis=-1)
        for t in range(frames)
    ]
    return (127.5 + 110 * np.stack(clip)).astype(np.uint8)


def random_walk_keypoints(frames: int, num_kp: int, seed: int = 0) -> np.ndarray:
    """Keypoints in [-1, 1] drifting by ~0.01 per frame, like a talking head's."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(-0.8, 0.8, (1, num_kp, 2))
    return np.clip(start + np.cumsum(rng.normal(0, 0.01, (frames, num_kp, 2)), axis=0), -1, 1)
