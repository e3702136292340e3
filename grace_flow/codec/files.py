"""File wrappers around the clip codec: atomic writes, errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..fsutil import atomic_write_bytes
from .clip import DecodedClip, decode_clip, encode_clip
from .errors import CodecError


def encode_file(
    path: str | os.PathLike, frames: np.ndarray, keypoints: np.ndarray, *,
    gop: int, fps: float, quality: int,
) -> Path:
    """Encode a clip (see `encode_clip`) and write the bitstream to `path` atomically."""
    try:
        data = encode_clip(frames, keypoints, gop=gop, fps=fps, quality=quality)
    except CodecError as err:
        raise CodecError(f"{path}: {err}") from None
    return atomic_write_bytes(path, data)


def decode_file(path: str | os.PathLike) -> DecodedClip:
    """Read and decode the bitstream at `path`; every failure is a `CodecError` naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise CodecError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        return decode_clip(data)
    except CodecError as err:
        raise CodecError(f"{path}: {err}") from None
