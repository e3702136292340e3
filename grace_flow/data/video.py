"""Clips from a real video file: decode with PyAV, centre-crop square, resize, cut in order."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

from grace_flow.data.errors import DataError


def _square(frame: np.ndarray, frame_size: int) -> np.ndarray:
    """Centre-crop an RGB frame to a square and resize it (Lanczos, anti-aliased) to frame_size."""
    height, width, _ = frame.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(frame[top : top + side, left : left + side])
    return np.asarray(square.resize((frame_size, frame_size), Image.Resampling.LANCZOS))


def read_video_frames(source: str, count: int, frame_size: int, need_message: str) -> np.ndarray:
    """The first ``count`` frames of the video at ``source`` as uint8 [count, S, S, 3].

    ``need_message`` completes the error when the video is too short, e.g. "need 2560 (80 clips × 32
    frames): lower data.clips or data.frames_per_clip".
    """
    if not Path(source).is_file():
        raise DataError(
            f'data.source: {source} not found: give an existing video file or "synthetic"'
        )
    frames = []
    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise DataError(f"data.source: {source} has no video stream: give a video file")
            for frame in container.decode(video=0):
                frames.append(_square(frame.to_ndarray(format="rgb24"), frame_size))
                if len(frames) == count:  # enough: the rest of the video is not decoded
                    break
    except av.FFmpegError:
        raise DataError(
            f"data.source: {source} is not a readable video: re-encode it (e.g. H.264 mp4)"
        ) from None
    if len(frames) < count:
        raise DataError(f"data.source: {source} has {len(frames)} frames, {need_message}")
    return np.stack(frames)
