"""The data stage's public API: build the talking-face clip data set, load one split of it.

The default source is synthetic (procedural faces plus the animated astronaut photo) and fully
deterministic: each clip draws its identity and motion from its own seed stream
``(seed, split, clip)``, so the same seed gives byte-identical arrays in any process. A video path
as source is cut into consecutive clips instead, train first and test last (held out in time).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from grace_flow.data.errors import DataError
from grace_flow.data.faces import face_landmarks, render_face, sample_identity
from grace_flow.data.motion import apply_lighting, downsample, sample_motion, select_frames
from grace_flow.data.photo import photo_landmarks, render_photo
from grace_flow.data.video import read_video_frames
from grace_flow.fsutil import atomic_save_npz

SPLITS = ("train", "calibration", "test")
LANDMARK_NAMES = (
    "left_eye", "right_eye", "left_brow", "right_brow", "nose_tip",
    "mouth_left", "mouth_right", "upper_lip", "lower_lip", "chin",
)  # "left" is the image's left (smaller x)
COORDINATES = "x, y in [-1, 1]: -1 at the first pixel centre, +1 at the last (align_corners=True)"
DEFAULT_CLIPS = MappingProxyType({"train": 64, "calibration": 8, "test": 8})
PHOTO_EVERY = 8  # every 8th train clip animates the astronaut photo; test never sees it
PHOTO_IDENTITY = 0
RENDER_CHUNK = 8  # frames rendered at once: bounds memory at ~100 MB for any clip length


def _validate(frame_size: int, frames_per_clip: int, clips: Mapping[str, int]) -> None:
    """Reject settings the generator cannot serve, with a one-line fix."""
    if set(clips) != set(SPLITS):
        raise DataError(
            f"data.clips: got splits {', '.join(sorted(clips))}: give exactly {', '.join(SPLITS)}"
        )
    for split in SPLITS:
        if not isinstance(clips[split], int) or clips[split] < 1:
            raise DataError(f"data.clips.{split}: {clips[split]!r} clips: use an integer >= 1")
    if frame_size < 16:
        raise DataError(f"data.frame_size: {frame_size} is too small: use at least 16")
    if frames_per_clip < 2:
        raise DataError(f"data.frames_per_clip: {frames_per_clip} is too small: use at least 2")


def synthetic_clip(seed: int, split_index: int, clip_index: int, frame_size: int, frames: int,
                   photo: bool) -> tuple[np.ndarray, np.ndarray]:
    """One animated clip: uint8 frames [T, S, S, 3] and float32 landmarks [T, 10, 2]."""
    motion = sample_motion(np.random.default_rng([seed, split_index, clip_index, 1]), frames)
    identity_rng = np.random.default_rng([seed, split_index, clip_index])
    face = None if photo else sample_identity(identity_rng)
    # Supersample up to a 128-pixel render grid (2x at 64); beyond, the soft edges alone anti-alias.
    supersample = int(np.clip(128 // frame_size, 1, 4))
    chunks = []
    for start in range(0, frames, RENDER_CHUNK):
        part = select_frames(motion, slice(start, start + RENDER_CHUNK))
        if photo:
            rendered = render_photo(part, frame_size, supersample)
        else:
            rendered = render_face(face, part, frame_size, supersample)
        chunks.append(downsample(rendered, supersample))
    landmarks = photo_landmarks(motion) if photo else face_landmarks(face, motion)
    return apply_lighting(np.concatenate(chunks), motion), landmarks.astype(np.float32)


def _synthetic_splits(seed: int, frame_size: int, frames: int, clips: Mapping[str, int]) -> dict:
    """All synthetic splits; identity ids are unique per procedural clip, 0 for the photo."""
    arrays, next_identity = {}, PHOTO_IDENTITY + 1
    for split_index, split in enumerate(SPLITS):
        videos, landmarks, identities = [], [], []
        for clip_index in range(clips[split]):
            photo = split == "train" and clip_index % PHOTO_EVERY == 0
            clip, points = synthetic_clip(seed, split_index, clip_index, frame_size, frames, photo)
            videos.append(clip)
            landmarks.append(points)
            identities.append(PHOTO_IDENTITY if photo else next_identity)
            next_identity += 0 if photo else 1
        arrays[f"{split}_frames"] = np.stack(videos)
        arrays[f"{split}_landmarks"] = np.stack(landmarks)
        arrays[f"{split}_identity"] = np.array(identities, dtype=np.int64)
    return arrays


def _video_splits(source: str, frame_size: int, frames: int, clips: Mapping[str, int]) -> dict:
    """Consecutive clips of the video, split in time order; no landmarks, identity unknown (-1)."""
    total_clips = sum(clips.values())
    need = (
        f"need {total_clips * frames} ({total_clips} clips × {frames} frames): "
        "lower data.clips or data.frames_per_clip"
    )
    video = read_video_frames(source, total_clips * frames, frame_size, need)
    video = video.reshape(total_clips, frames, frame_size, frame_size, 3)
    arrays, start = {}, 0
    for split in SPLITS:
        count = clips[split]
        arrays[f"{split}_frames"] = video[start : start + count]
        arrays[f"{split}_landmarks"] = np.zeros((count, frames, 0, 2), dtype=np.float32)
        arrays[f"{split}_identity"] = np.full(count, -1, dtype=np.int64)
        start += count
    return arrays


def make_dataset(out_path, *, source: str = "synthetic", frame_size: int = 64,
                 frames_per_clip: int = 32, clips: Mapping[str, int] = DEFAULT_CLIPS,
                 seed: int = 0) -> dict:
    """Build the clip data set and write it atomically as one .npz; return its summary.

    Per split S: ``S_frames`` uint8 [N, T, H, W, 3], ``S_landmarks`` float32 [N, T, L, 2] (L = 10
    for synthetic data, 0 for video), ``S_identity`` int64 [N] (0 = astronaut photo, -1 = unknown),
    and ``meta``, a JSON string. ``source`` is "synthetic" or the path of a video file.
    """
    _validate(frame_size, frames_per_clip, clips)
    if source == "synthetic":
        arrays = _synthetic_splits(seed, frame_size, frames_per_clip, clips)
        names = list(LANDMARK_NAMES)
    else:
        arrays = _video_splits(str(source), frame_size, frames_per_clip, clips)
        names = []
    meta = {
        "source": str(source),
        "seed": seed,
        "frame_size": frame_size,
        "frames_per_clip": frames_per_clip,
        "clips": {split: clips[split] for split in SPLITS},
        "landmark_names": names,
        "coordinates": COORDINATES,
    }
    atomic_save_npz(out_path, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    return {**meta, "path": str(out_path), "bytes": Path(out_path).stat().st_size}


def load_split(npz_path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8 [N, T, H, W, 3] and landmarks float32 [N, T, L, 2] of one split."""
    path = Path(npz_path)
    if not path.is_file():
        raise DataError(f"{path}: data set not found: build it first (doit model)")
    if split not in SPLITS:
        raise DataError(f"{path}: no split {split!r}: use one of {', '.join(SPLITS)}")
    with np.load(path) as data:
        return data[f"{split}_frames"], data[f"{split}_landmarks"]
