"""Procedurally drawn faces: a random identity, rendered analytically for every frame of a clip.

Each identity is a set of shape and colour parameters (head ellipse, skin tone, hair style, eyes,
brows, nose, mouth, accessories, background). Frames are drawn in head-local coordinates (the
inverse head pose of each pixel), so pose, blinks and talking need no image warping, and the 10
landmarks are exact. Shapes have one-pixel soft edges on a supersampled grid that is box-filtered
down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import gaussian_filter

from grace_flow.data.motion import Motion, render_grid, to_head_frame, to_image_frame

SKIN_LIGHT, SKIN_DARK = np.array([0.96, 0.80, 0.69]), np.array([0.33, 0.20, 0.13])
HAIR_COLOURS = np.array(
    [[0.08, 0.06, 0.05], [0.30, 0.18, 0.10], [0.55, 0.38, 0.20], [0.85, 0.72, 0.45],
     [0.60, 0.25, 0.10], [0.65, 0.65, 0.65]]
)
IRIS_COLOURS = np.array(
    [[0.35, 0.20, 0.10], [0.25, 0.45, 0.70], [0.30, 0.50, 0.30], [0.45, 0.45, 0.50]]
)
HAIR_STYLES = ("bald", "short", "bob", "long")


@dataclass(frozen=True)
class FaceIdentity:
    """Shape and colour parameters of one procedural person (normalised head-local units)."""

    size: float  # head scale in the frame
    centre_y: float  # head centre height; the shoulders take the frame's lower part
    head_width: float
    head_top: float
    head_bottom: float
    chin_taper: float
    skin: np.ndarray
    hair: np.ndarray
    hair_style: str
    hairline: float
    hair_wave: tuple[float, float, float]  # amplitude, frequency, phase
    eye_x: float
    eye_y: float
    eye_width: float
    eye_height: float
    iris: np.ndarray
    brow_gap: float
    brow_thickness: float
    brow_tilt: float
    nose_y: float
    nose_width: float
    mouth_y: float
    mouth_width: float
    mouth_gap: float
    smile: float
    lips: np.ndarray
    beard: bool
    glasses: bool
    clothes: np.ndarray
    background: tuple[np.ndarray, np.ndarray, float]  # two colours, gradient angle
    texture_seed: int


def sample_identity(rng: np.random.Generator) -> FaceIdentity:
    """Draw a random face; every call gives a new person."""
    skin = SKIN_LIGHT + rng.uniform() ** 1.3 * (SKIN_DARK - SKIN_LIGHT) + rng.normal(0, 0.02, 3)
    head_width, head_top = rng.uniform(0.27, 0.35), rng.uniform(0.36, 0.44)
    bg_a, bg_b = rng.uniform(0.1, 0.95, 3), rng.uniform(0.1, 0.95, 3)
    return FaceIdentity(
        size=rng.uniform(1.25, 1.5),
        centre_y=rng.uniform(-0.15, -0.05),
        head_width=head_width,
        head_top=head_top,
        head_bottom=head_top * rng.uniform(0.95, 1.15),
        chin_taper=rng.uniform(0.1, 0.45),
        skin=np.clip(skin, 0, 1),
        hair=np.clip(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] + rng.normal(0, 0.03, 3), 0, 1),
        hair_style=HAIR_STYLES[rng.choice(4, p=[0.1, 0.4, 0.25, 0.25])],
        hairline=rng.uniform(0.35, 0.65),
        hair_wave=(rng.uniform(0, 0.03), rng.uniform(5, 20), rng.uniform(0, 2 * np.pi)),
        eye_x=head_width * rng.uniform(0.33, 0.45),
        eye_y=rng.uniform(-0.10, -0.02),
        eye_width=rng.uniform(0.045, 0.065),
        eye_height=rng.uniform(0.018, 0.03),
        iris=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] * rng.uniform(0.8, 1.2),
        brow_gap=rng.uniform(0.045, 0.07),
        brow_thickness=rng.uniform(0.008, 0.016),
        brow_tilt=rng.uniform(-0.25, 0.25),
        nose_y=rng.uniform(0.06, 0.12),
        nose_width=rng.uniform(0.025, 0.045),
        mouth_y=rng.uniform(0.19, 0.25),
        mouth_width=rng.uniform(0.07, 0.11),
        mouth_gap=rng.uniform(0.04, 0.08),
        smile=rng.uniform(-0.3, 1.0),
        lips=np.clip(skin * [0.85, 0.55, 0.55] + [0.1, 0.0, 0.02], 0, 1),
        beard=bool(rng.uniform() < 0.15),
        glasses=bool(rng.uniform() < 0.2),
        clothes=rng.uniform(0.05, 0.9, 3),
        background=(bg_a, bg_b, rng.uniform(0, 2 * np.pi)),
        texture_seed=int(rng.integers(2**31)),
    )


def coverage(sdf, pixel: float):
    """Anti-aliased alpha of the region ``sdf < 0``: a linear ramp one pixel wide."""
    return np.clip(0.5 - sdf / pixel, 0, 1)


def ellipse_sdf(u, v, cx, cy, a, b):
    """Approximate signed distance to an axis-aligned ellipse; semi-axes may vary per pixel.

    Outside, the radius is divided by its gradient (Quilez's approximation), which stays accurate
    along the long axis of thin ellipses (a closed mouth, a closed eye) where scaling by min(a, b)
    would smear them into long lines.
    """
    du, dv = (u - cx) / a, (v - cy) / b
    radius = np.sqrt(du**2 + dv**2)
    gradient = np.sqrt((du / a) ** 2 + (dv / b) ** 2)
    outside = radius * (radius - 1) / np.maximum(gradient, 1e-9)
    return np.where(radius < 1, (radius - 1) * np.minimum(a, b), outside)


def paint(image, alpha, colour):
    """Composite ``colour`` ([3] or per pixel) over ``image`` in place with per-pixel ``alpha``."""
    # Most shapes cover a small part of the frame: touching only their pixels is ~10x faster.
    alpha = np.broadcast_to(alpha, image.shape[:-1])
    inside = alpha > 0
    colour = np.asarray(colour, np.float32)
    if colour.ndim > 1:
        colour = np.broadcast_to(colour, image.shape)[inside]
    image[inside] += alpha[inside][:, None] * (colour - image[inside])


def _place(face: FaceIdentity, motion: Motion) -> Motion:
    """The clip's motion with this face's size and position folded into the head pose."""
    translation = motion.translation + [0.0, face.centre_y]
    return replace(motion, translation=translation, scale=motion.scale * face.size)


def face_landmarks(face: FaceIdentity, motion: Motion) -> np.ndarray:
    """The 10 landmarks [T, 10, 2] in image coordinates (order: grace_flow.data.LANDMARK_NAMES)."""
    motion = _place(face, motion)
    gap = face.mouth_gap * motion.mouth_open
    brow_y = face.eye_y - face.brow_gap - 0.02 * motion.brow_raise
    corner_y = face.mouth_y + gap / 2 - 0.03 * face.smile
    chin_y = face.head_bottom + 0.7 * gap
    zero, one = np.zeros_like(gap), np.ones_like(gap)
    points = [
        (-face.eye_x * one, face.eye_y * one), (face.eye_x * one, face.eye_y * one),
        (-face.eye_x * one, brow_y), (face.eye_x * one, brow_y),
        (zero, face.nose_y * one),
        (-face.mouth_width * one, corner_y), (face.mouth_width * one, corner_y),
        (zero, face.mouth_y * one), (zero, face.mouth_y + gap), (zero, chin_y),
    ]
    local = np.stack([np.stack(p, axis=-1) for p in points], axis=1)
    return to_image_frame(motion, local)


def render_face(face: FaceIdentity, motion: Motion, frame_size: int, supersample: int):
    """Draw each frame of ``motion``: float32 [T, R, R, 3] in [0, 1], R = frame_size·supersample."""
    motion = _place(face, motion)
    x, y = render_grid(frame_size, supersample)
    px = 2 / (frame_size - 1) / supersample / face.size  # one render pixel in head-local units
    frames = len(motion.rotation)
    image = np.broadcast_to(_background(face, x, y), (frames, *x.shape, 3)).astype(np.float32)
    u, v = (c.astype(np.float32) for c in to_head_frame(motion, x, y))
    _body(image, face, motion, x, y, px)
    _hair_back(image, face, u, v, px)
    gap = _per_frame(face.mouth_gap * motion.mouth_open)
    _head(image, face, motion, u, v, gap, px)
    _eyes_and_brows(image, face, motion, u, v, px)
    _nose(image, face, u, v, px)
    _mouth(image, face, u, v, gap, px)
    if face.glasses:
        _glasses(image, face, u, v, px)
    return image


def _body(image, face: FaceIdentity, motion: Motion, x, y, px):
    """Shoulders and neck: they follow the head's translation but not its rotation."""
    bu = (x[None] - _per_frame(motion.translation[:, 0])) / face.size
    bv = (y[None] - _per_frame(motion.translation[:, 1])) / face.size
    shoulders = ellipse_sdf(bu, bv, 0, face.head_bottom + 0.42, 0.85, 0.32)
    paint(image, coverage(shoulders, px), face.clothes)
    neck = np.maximum(np.abs(bu) - 0.42 * face.head_width, face.head_bottom * 0.3 - bv)
    paint(image, coverage(neck, px), face.skin * 0.75)


def _head(image, face: FaceIdentity, motion: Motion, u, v, gap, px):
    """Ears, the shaded head (its chin drops by 0.7 of the mouth gap), fringe and beard."""
    for side in (-1, 1):
        ear = ellipse_sdf(u, v, side * face.head_width * 0.97, face.eye_y + 0.06, 0.04, 0.07)
        paint(image, coverage(ear, px), face.skin * 0.9)
    head_b = np.where(v < 0, face.head_top, face.head_bottom + 0.7 * gap)
    head_a = face.head_width * (1 - face.chin_taper * np.clip(v / face.head_bottom, 0, 1) ** 2)
    head = coverage(ellipse_sdf(u, v, 0, 0, head_a, head_b), px)
    # Key light from a drifting direction, darker towards the silhouette for some roundness.
    light_x, light_y = _per_frame(motion.light[:, 0]), _per_frame(motion.light[:, 1])
    radius = np.sqrt((u / head_a) ** 2 + (v / head_b) ** 2)
    shade = (1 + 0.15 * (light_x * u / face.head_width + light_y * v / face.head_top)
             - 0.35 * np.clip(radius - 0.7, 0, 1))
    paint(image, head, face.skin * shade[..., None])
    if face.hair_style != "bald":
        # Lower at the temples, with a wavy edge.
        amplitude, frequency, phase = face.hair_wave
        hairline = (face.head_top * (0.3 * (u / face.head_width) ** 2 - face.hairline)
                    + amplitude * np.sin(frequency * u + phase))
        paint(image, head * coverage(v - hairline, px), face.hair)
    if face.beard:
        paint(image, 0.85 * head * coverage(face.mouth_y - 0.045 - v, px), face.hair)


def _glasses(image, face: FaceIdentity, u, v, px):
    """Two round rims and a bridge."""
    frame_colour = np.array([0.1, 0.1, 0.12])
    for side in (-1, 1):
        rim = ellipse_sdf(u, v, side * face.eye_x, face.eye_y, face.eye_width * 1.6, 0.055)
        paint(image, coverage(np.abs(rim + 0.005) - 0.005, px), frame_colour)
    inner_rim = face.eye_x - face.eye_width * 1.6
    bridge = np.maximum(np.abs(u) - inner_rim, np.abs(v - face.eye_y) - 0.006)
    paint(image, coverage(bridge, px), frame_colour)


def _per_frame(values):
    """Per-frame values [T] as float32 [T, 1, 1], to broadcast against [T, R, R] images."""
    return np.asarray(values, np.float32)[:, None, None]


def _background(face: FaceIdentity, x, y):
    """Static backdrop: a two-colour gradient plus low-frequency texture."""
    colour_a, colour_b, angle = face.background
    ramp = ((x * np.cos(angle) + y * np.sin(angle)) + 1.5) / 3
    noise = np.random.default_rng(face.texture_seed).normal(size=x.shape)
    texture = gaussian_filter(noise, sigma=x.shape[0] / 20)
    texture *= 0.05 / (texture.std() + 1e-9)
    image = colour_a + ramp[..., None] * (colour_b - colour_a) + texture[..., None]
    return np.clip(image, 0, 1)


def _hair_back(image, face: FaceIdentity, u, v, px):
    """Hair behind the head: its length depends on the style."""
    if face.hair_style == "bald":
        return
    bottom = {"short": 0.0, "bob": face.head_bottom * 0.8, "long": face.head_bottom + 0.35}
    hair = ellipse_sdf(u, v, 0, -0.1, face.head_width * 1.18, face.head_top * 1.05 + 0.05)
    if face.hair_style == "long":
        hair = np.minimum(hair, np.maximum(np.abs(u) - face.head_width * 1.2, -0.1 - v))
    hair = np.maximum(hair, v - bottom[face.hair_style])
    paint(image, coverage(hair, px), face.hair * 0.85)


def _eyes_and_brows(image, face: FaceIdentity, motion: Motion, u, v, px):
    """Eye whites, irises and pupils (closing with blinks), then the brows above them."""
    height = _per_frame(face.eye_height * motion.eye_open + 1e-4)
    gaze_x, gaze_y = _per_frame(motion.gaze[:, 0]), _per_frame(motion.gaze[:, 1])
    brow_y = _per_frame(face.eye_y - face.brow_gap - 0.02 * motion.brow_raise)
    iris_r = face.eye_height * 0.85
    for side in (-1, 1):
        cx = side * face.eye_x
        du, dv = u - cx, v - face.eye_y
        # Signed distances scale with the (shrinking) eye height; thin shapes fade out smoothly.
        lid = ellipse_sdf(du, dv, 0, 0, face.eye_width + 0.008, height + 0.006)
        paint(image, coverage(lid, px), face.hair * 0.5)
        white = coverage(ellipse_sdf(du, dv, 0, 0, face.eye_width, height), px)
        white *= np.clip(height / px, 0, 1)  # a thinner-than-a-pixel eye fades out
        paint(image, white, np.array([0.95, 0.93, 0.9]))
        iu, iv = du - gaze_x * face.eye_width * 0.4, dv - gaze_y * face.eye_height * 0.3
        iris_d = np.sqrt(iu**2 + iv**2)
        paint(image, white * coverage(iris_d - iris_r, px), face.iris)
        paint(image, white * coverage(iris_d - iris_r * 0.45, px), np.zeros(3))
        glint = np.sqrt((iu + iris_r * 0.3) ** 2 + (iv + iris_r * 0.3) ** 2) - iris_r * 0.25
        paint(image, white * coverage(glint, px), np.ones(3))
        tilt = side * face.brow_tilt
        bu = np.cos(tilt) * du + np.sin(tilt) * (v - brow_y)
        bv = -np.sin(tilt) * du + np.cos(tilt) * (v - brow_y)
        brow = ellipse_sdf(bu, bv, 0, 0, face.eye_width * 1.3, face.brow_thickness)
        paint(image, coverage(brow, px), face.hair * 0.7)


def _nose(image, face: FaceIdentity, u, v, px):
    """A shaded bridge, a rounded tip and two nostrils."""
    bridge = ellipse_sdf(u, v, face.nose_width * 0.5, (face.eye_y + face.nose_y) / 2,
                         face.nose_width * 0.3, (face.nose_y - face.eye_y) / 2)
    paint(image, 0.25 * coverage(bridge, px), face.skin * 0.6)
    tip = ellipse_sdf(u, v, 0, face.nose_y - 0.008, face.nose_width, 0.022)
    paint(image, 0.5 * coverage(tip, px), face.skin * 0.85)
    for side in (-1, 1):
        nostril_x = side * face.nose_width * 0.55
        nostril = ellipse_sdf(u, v, nostril_x, face.nose_y + 0.006, 0.012, 0.007)
        paint(image, 0.8 * coverage(nostril, px), face.skin * 0.35)


def _mouth(image, face: FaceIdentity, u, v, gap, px):
    """Lips around a dark opening of height ``gap`` [T, 1, 1]; a smile raises the corners."""
    width, mouth_y = face.mouth_width, face.mouth_y
    vm = v + 0.03 * face.smile * (u / width) ** 2
    upper = ellipse_sdf(u, vm, 0, mouth_y - 0.012, width * 1.02, 0.016)
    paint(image, coverage(upper, px), face.lips)
    lower_y = mouth_y + gap + 0.012
    lower = ellipse_sdf(u, vm, 0, lower_y, width * 0.85, 0.018)
    paint(image, coverage(lower, px), face.lips * 0.95)
    half = gap / 2 + 0.003
    inside = coverage(ellipse_sdf(u, vm, 0, mouth_y + gap / 2, width, half), px)
    paint(image, inside, np.array([0.30, 0.05, 0.08]))
    paint(image, inside * coverage(vm - mouth_y - 0.3 * gap, px), np.array([0.92, 0.9, 0.85]))
