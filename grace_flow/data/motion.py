"""Per-frame animation of a talking head: pose, blinks, mouth, gaze, lighting.

Everything is a smooth random trajectory (a sum of a few low-frequency sinusoids) so that
consecutive frames differ the way VoxCeleb frames do: the head drifts by a few % of the frame,
rotates by a few degrees, the mouth opens and closes at syllable rate, eyes blink now and then.

Coordinates are normalised like FOMM keypoints: x = -1 at the left pixel column, +1 at the right one
(align_corners=True convention), y likewise from top to bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Amplitudes of the head motion; 0.06 normalised units are 3 % of the frame width.
TRANSLATION_AMPLITUDE = 0.06
ROTATION_AMPLITUDE = 0.08  # radians, about 4.6 degrees
SCALE_AMPLITUDE = 0.04
BLINKS_PER_FRAME = 1 / 40  # more often than in life, so short clips still contain blinks
SYLLABLE_FREQUENCIES = (0.08, 0.2)  # cycles per frame: 2-5 Hz at 25 fps


@dataclass(frozen=True)
class Motion:
    """Per-frame animation parameters of one clip (T frames)."""

    translation: np.ndarray  # [T, 2] head centre offset, normalised units
    rotation: np.ndarray  # [T] radians, positive turns the head clockwise on screen
    scale: np.ndarray  # [T] head size factor
    eye_open: np.ndarray  # [T] 1 = open, 0 = closed (blink)
    mouth_open: np.ndarray  # [T] 0 = closed, 1 = widest
    gaze: np.ndarray  # [T, 2] iris offset in [-1, 1] of its range
    brow_raise: np.ndarray  # [T] 0..1
    light: np.ndarray  # [T, 2] direction of the key light, for shading
    gain: np.ndarray  # [T, 3] per-channel brightness gain (lighting drift)


def smooth_signal(rng: np.random.Generator, frames: int, freq_range=(0.01, 0.06), components=3):
    """A zero-centred random sum of sinusoids in [-1, 1]; frequencies in cycles per frame."""
    t = np.arange(frames)[:, None]
    freqs = rng.uniform(*freq_range, size=components)
    phases = rng.uniform(0, 2 * np.pi, size=components)
    weights = rng.uniform(0.5, 1.0, size=components)
    signal = (weights * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1)
    return signal / weights.sum()


def blink_profile(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Eye openness per frame: 1 except during blinks, which close the eyes over ~4 frames."""
    count = rng.poisson(frames * BLINKS_PER_FRAME)
    centres = rng.integers(0, frames, size=count)  # on a frame, so every blink closes fully
    half_widths = rng.uniform(1.5, 2.5, size=count)
    t = np.arange(frames)[:, None]
    closure = np.clip(1 - np.abs(t - centres) / half_widths, 0, 1)
    return 1 - closure.max(axis=1, initial=0.0)


def talking_profile(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Mouth opening per frame: syllable-rate pulses inside speech segments with short pauses."""
    syllables = np.abs(smooth_signal(rng, frames, SYLLABLE_FREQUENCIES, components=2))
    # A slow envelope below zero is a pause; most of the clip is speech.
    envelope = np.clip(3 * (smooth_signal(rng, frames, (0.01, 0.04), components=2) + 0.6), 0, 1)
    return rng.uniform(0.5, 1.0) * envelope * np.clip(1.6 * syllables, 0, 1)


def sample_motion(rng: np.random.Generator, frames: int) -> Motion:
    """Draw one clip's animation: smooth head pose, blinks, talking, gaze and lighting drift."""
    offset = rng.uniform(-0.03, 0.03, size=2)
    translation = offset + TRANSLATION_AMPLITUDE * np.stack(
        [smooth_signal(rng, frames), smooth_signal(rng, frames)], axis=1
    )
    rotation = ROTATION_AMPLITUDE * smooth_signal(rng, frames)
    scale = 1 + SCALE_AMPLITUDE * smooth_signal(rng, frames, (0.005, 0.03))
    gaze = 0.6 * np.stack([smooth_signal(rng, frames), smooth_signal(rng, frames)], axis=1)
    brow_raise = np.clip(smooth_signal(rng, frames, (0.02, 0.08)), 0, 1)
    light_base = rng.uniform(-0.8, 0.8, size=2)
    light = light_base + 0.25 * np.stack(
        [smooth_signal(rng, frames), smooth_signal(rng, frames)], axis=1
    )
    # Camera exposure and white balance drift slowly: a few percent within a clip, as in
    # interview-style footage; larger swings are scene changes, which a new key frame handles.
    brightness = 1 + 0.03 * smooth_signal(rng, frames, (0.005, 0.03))
    tint = 0.01 * np.stack([smooth_signal(rng, frames, (0.005, 0.03)) for _ in range(3)], axis=1)
    return Motion(
        translation=translation,
        rotation=rotation,
        scale=scale,
        eye_open=blink_profile(rng, frames),
        mouth_open=talking_profile(rng, frames),
        gaze=gaze,
        brow_raise=brow_raise,
        light=light,
        gain=brightness[:, None] + tint,
    )


def render_grid(frame_size: int, supersample: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised (x, y) of the sub-pixel samples, [R, R] each with R = frame_size * supersample.

    Sub-samples sit symmetrically inside each output pixel, so the block mean of the
    supersample×supersample samples is the value at that pixel's centre.
    """
    pixel = np.arange(frame_size * supersample)
    position = (pixel + 0.5) / supersample - 0.5  # in output-pixel units
    coords = position * 2 / (frame_size - 1) - 1
    y, x = np.meshgrid(coords, coords, indexing="ij")
    return x, y


def to_head_frame(motion: Motion, x: np.ndarray, y: np.ndarray):
    """Map image coordinates [R, R] to head-local coordinates [T, R, R] (the inverse head pose)."""
    cos, sin = np.cos(motion.rotation)[:, None, None], np.sin(motion.rotation)[:, None, None]
    dx = x[None] - motion.translation[:, 0, None, None]
    dy = y[None] - motion.translation[:, 1, None, None]
    inv_scale = 1 / motion.scale[:, None, None]
    return (cos * dx + sin * dy) * inv_scale, (-sin * dx + cos * dy) * inv_scale


def to_image_frame(motion: Motion, points: np.ndarray) -> np.ndarray:
    """Map head-local points [T, L, 2] to image coordinates with the head pose (forward map)."""
    cos, sin = np.cos(motion.rotation)[:, None], np.sin(motion.rotation)[:, None]
    u, v = points[..., 0] * motion.scale[:, None], points[..., 1] * motion.scale[:, None]
    x = cos * u - sin * v + motion.translation[:, 0, None]
    y = sin * u + cos * v + motion.translation[:, 1, None]
    return np.stack([x, y], axis=-1)


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter [..., R, R, C] by ``factor`` (anti-aliasing of the supersampled render)."""
    *lead, height, width, channels = image.shape
    blocks = image.reshape(*lead, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(-4, -2))


def apply_lighting(frames: np.ndarray, motion: Motion) -> np.ndarray:
    """Apply the per-frame colour gain to float frames [T, H, W, 3] in [0, 1]; quantise to uint8."""
    lit = frames * motion.gain[:, None, None, :]
    return np.round(np.clip(lit, 0, 1) * 255).astype(np.uint8)


def select_frames(motion: Motion, frames: slice) -> Motion:
    """The same animation restricted to a range of frames (to render a long clip in chunks)."""
    return Motion(**{name: value[frames] for name, value in vars(motion).items()})
