"""The data stage: the train / calibration / test clips, synthetic or cut from a video file."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping


def build_clips(out_path: Path, *, video: Path | None, frame_size: int, frames_per_clip: int,
                clips: Mapping[str, int], seed: int) -> dict:
    """Write the clip data set to ``out_path``: synthetic faces, or clips of ``video``."""
    from grace_flow.data.clips import make_dataset

    return make_dataset(out_path, source=str(video) if video else "synthetic",
                        frame_size=frame_size, frames_per_clip=frames_per_clip, clips=clips,
                        seed=seed)
