"""Talking-face clips to train and test the decoder: synthetic by default, or from a video file."""

from grace_flow.data.clips import LANDMARK_NAMES, SPLITS, load_split, make_dataset
from grace_flow.data.errors import DataError

__all__ = ["DataError", "LANDMARK_NAMES", "SPLITS", "load_split", "make_dataset"]
