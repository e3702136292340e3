"""The one real face available offline: scikit-image's astronaut photo, animated by warping.

The face region of the photo is cropped once; each frame warps it with the head pose (affine) plus
two local deformations in the photo's own coordinates: the jaw drops below the mouth line (talking)
and each eye is squeezed vertically and covered by eyelid colour (blinking). Landmarks were placed
by hand on the crop and move through the same warp, so they stay on the features.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates
from skimage.transform import resize

from grace_flow.data.motion import Motion, render_grid, to_head_frame, to_image_frame

CROP_ROWS, CROP_COLS = slice(0, 240), slice(105, 345)
CROP_SIZE = 240
# Landmarks on the crop in pixels (column, row), in grace_flow.data.LANDMARK_NAMES order.
CROP_LANDMARKS = np.array(
    [[98, 100], [143, 103], [97, 89], [145, 92], [120, 127],
     [99, 142], [139, 142], [119, 140], [119, 149], [120, 178]], dtype=np.float64
)
JAW_DROP = 0.05  # normalised units the chin moves at full mouth opening (6 px of the crop)
BLINK_SQUEEZE = 2.0  # < 2.24 keeps the eye warp one-to-one (no folding)
EYE_SIGMA = (0.09, 0.045)


def astronaut_face() -> tuple[np.ndarray, np.ndarray]:
    """The cropped face, float [240, 240, 3] in [0, 1], and its landmarks [10, 2] in [-1, 1]."""
    from skimage.data import astronaut

    crop = astronaut()[CROP_ROWS, CROP_COLS].astype(np.float64) / 255
    return crop, CROP_LANDMARKS * 2 / (CROP_SIZE - 1) - 1


def _deformation(x, y, landmarks, mouth_open, eye_open):
    """Offsets (dx, dy) such that output point q samples the photo at q + (dx, dy).

    ``mouth_open`` and ``eye_open`` broadcast against ``x``/``y`` (one value per frame).
    """
    mouth_x, mouth_y = landmarks[7]
    chin_y = landmarks[9, 1]
    below_mouth = np.clip((y - mouth_y) / 0.03, 0, 1)
    below_mouth = below_mouth**2 * (3 - 2 * below_mouth)  # smoothstep: no crease at the lip line
    fade_below_chin = np.exp(-((np.maximum(y - chin_y, 0) / 0.1) ** 2))
    jaw = np.exp(-(((x - mouth_x) / 0.28) ** 2)) * below_mouth * fade_below_chin
    dy = -JAW_DROP * mouth_open * jaw
    for eye_x, eye_y in landmarks[:2]:
        weight = np.exp(-(((x - eye_x) / EYE_SIGMA[0]) ** 2) - ((y - eye_y) / EYE_SIGMA[1]) ** 2)
        dy = dy + BLINK_SQUEEZE * (1 - eye_open) * (y - eye_y) * weight
    return np.zeros_like(dy), dy


def photo_landmarks(motion: Motion) -> np.ndarray:
    """Landmarks [T, 10, 2] of the animated photo in image coordinates."""
    _, source = astronaut_face()
    mouth, eyes = motion.mouth_open[:, None], motion.eye_open[:, None]
    points = np.broadcast_to(source, (len(mouth), *source.shape)).copy()
    # Invert q + d(q) = source point by fixed-point iteration (d is smooth and small).
    for _ in range(20):
        dx, dy = _deformation(points[..., 0], points[..., 1], source, mouth, eyes)
        points = source - np.stack([dx, dy], axis=-1)
    return to_image_frame(motion, points)


def render_photo(motion: Motion, frame_size: int, supersample: int) -> np.ndarray:
    """Warp the photo for each frame of ``motion``: [T, R, R, 3], R = frame_size·supersample."""
    crop, landmarks = astronaut_face()
    size = frame_size * supersample
    # Resample once to the render grid's density, with anti-aliasing, then warp at that density.
    source = resize(crop, (size, size), order=1, anti_aliasing=True)
    lid_colour = crop[110:118, 95:145].reshape(-1, 3).mean(axis=0)
    x, y = render_grid(frame_size, supersample)
    u, v = to_head_frame(motion, x, y)
    mouth, eyes = motion.mouth_open[:, None, None], motion.eye_open[:, None, None]
    dx, dy = _deformation(u, v, landmarks, mouth, eyes)
    sx, sy = u + dx, v + dy
    # Normalised photo coordinates -> crop pixels -> pixels of the resized source.
    rows, cols = (((n + 1) * (CROP_SIZE - 1) / 2 + 0.5) * size / CROP_SIZE - 0.5 for n in (sy, sx))
    frames = np.empty((len(mouth), size, size, 3))
    for t in range(len(mouth)):
        for c in range(3):
            frames[t, ..., c] = map_coordinates(
                source[..., c], [rows[t], cols[t]], order=1, mode="nearest"
            )
    # The squeezed eye still shows some iris; eyelid skin over it makes the blink read as one.
    for eye_x, eye_y in landmarks[:2]:
        lid = np.exp(-(((sx - eye_x) / 0.06) ** 2) - ((sy - eye_y) / 0.03) ** 2)
        alpha = 0.9 * (1 - eyes) * lid
        frames += alpha[..., None] * (lid_colour - frames)
    return frames
