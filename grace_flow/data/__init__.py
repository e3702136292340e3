"""Talking-face clips for training and testing the decoder: synthetic by default, or a video file."""

from grace_flow.data.clips import LANDMARK_NAMES, SPLITS, load_split, make_dataset
from grace_flow.data.errors import DataError

__all__ = ["DataError", "LANDMARK_NAMES", "SPLITS", "load_split", "make_dataset"]
