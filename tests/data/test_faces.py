"""Rendering: landmarks follow the head, blinks and talking change the right pixels."""

import numpy as np
import pytest

from grace_flow.data.clips import LANDMARK_NAMES
from grace_flow.data.faces import face_landmarks, render_face, sample_identity
from grace_flow.data.motion import Motion, blink_profile, downsample
from grace_flow.data.photo import photo_landmarks, render_photo

SIZE = 48
PIXEL = 2 / (SIZE - 1)  # one output pixel in normalised units


def still(frames, **changes):
    """A motion with the head at rest, overridden per field by ``changes``."""
    fields = dict(
        translation=np.zeros((frames, 2)), rotation=np.zeros(frames), scale=np.ones(frames),
        eye_open=np.ones(frames), mouth_open=np.zeros(frames), gaze=np.zeros((frames, 2)),
        brow_raise=np.zeros(frames), light=np.zeros((frames, 2)), gain=np.ones((frames, 3)),
    )
    return Motion(**{**fields, **changes})


def render(kind, motion):
    """Frames [T, SIZE, SIZE, 3], landmarks [T, 10, 2] and head centre [2]: a face or the photo."""
    if kind == "photo":
        return downsample(render_photo(motion, SIZE, 2), 2), photo_landmarks(motion), np.zeros(2)
    face = sample_identity(np.random.default_rng(7))
    frames = downsample(render_face(face, motion, SIZE, 2), 2)
    return frames, face_landmarks(face, motion), np.array([0, face.centre_y])


def patch(frame, point, radius=4):
    """The (2r+1)^2 pixel patch of ``frame`` around the pixel containing ``point``."""
    col, row = np.floor((point + 1) / PIXEL + 1e-6).astype(int)
    return frame[row - radius : row + radius + 1, col - radius : col + radius + 1]


@pytest.mark.parametrize("kind", ["procedural", "photo"])
def test_landmarks_follow_head_translation(kind):
    shift = np.array([3 * PIXEL, -2 * PIXEL])  # a whole number of pixels
    frames, landmarks, _ = render(kind, still(2, translation=np.stack([np.zeros(2), shift])))
    np.testing.assert_allclose(landmarks[1] - landmarks[0], np.tile(shift, (10, 1)), atol=1e-9)
    for name in ("left_eye", "nose_tip", "mouth_right"):
        # The content around each landmark moved by the same whole number of pixels...
        before = landmarks[0, LANDMARK_NAMES.index(name)]
        # (small patches: the static background must stay out of them).
        moved = patch(frames[1], before + shift, 2)
        assert np.abs(moved - patch(frames[0], before, 2)).max() < 1e-3  # float32 rounding
        # ...while the same image location no longer shows the same content.
        assert np.abs(patch(frames[1], before, 2) - moved).mean() > 0.01


@pytest.mark.parametrize("kind", ["procedural", "photo"])
def test_landmarks_follow_rotation_and_scale(kind):
    _, rest, centre = render(kind, still(1))
    _, posed, _ = render(kind, still(1, rotation=np.array([0.1]), scale=np.array([1.05])))
    cos, sin = np.cos(0.1), np.sin(0.1)
    expected = centre + 1.05 * (rest[0] - centre) @ np.array([[cos, sin], [-sin, cos]])
    np.testing.assert_allclose(posed[0], expected, atol=1e-9)


@pytest.mark.parametrize("kind", ["procedural", "photo"])
def test_blink_and_talking_change_eyes_and_mouth(kind):
    motion = still(3, eye_open=np.array([1.0, 0.0, 1.0]), mouth_open=np.array([0.0, 0.0, 1.0]))
    frames, landmarks, _ = render(kind, motion)
    eye = LANDMARK_NAMES.index("left_eye")
    mouth = LANDMARK_NAMES.index("lower_lip")
    blink = np.abs(patch(frames[1], landmarks[1, eye], 2) - patch(frames[0], landmarks[0, eye], 2))
    assert blink.mean() > 0.05
    closed = patch(frames[0], landmarks[0, mouth], 3)
    talk = np.abs(patch(frames[2], landmarks[0, mouth], 3) - closed)
    assert talk.mean() > 0.03
    # The mouth opens downwards: the lower lip and chin landmarks drop, the eyes stay.
    drop = landmarks[2, :, 1] - landmarks[0, :, 1]
    assert drop[mouth] > 0.02 and drop[LANDMARK_NAMES.index("chin")] > 0.02
    assert abs(drop[eye]) < 1e-3
    # Outside the face (top-left corner) nothing changes.
    assert np.abs(frames[1:, :4, :4] - frames[0, :4, :4]).max() < 1e-6


def test_blinks_close_the_eyes_briefly():
    profiles = np.stack([blink_profile(np.random.default_rng(s), 64) for s in range(20)])
    assert profiles.min() == 0 and profiles.max() == 1
    assert (profiles < 0.5).mean() < 0.2  # eyes are open most of the time


def test_identities_differ():
    faces = [sample_identity(np.random.default_rng(s)) for s in range(20)]
    assert len({(f.head_width, f.hair_style, tuple(f.skin)) for f in faces}) == 20
    assert len({f.hair_style for f in faces}) >= 3
