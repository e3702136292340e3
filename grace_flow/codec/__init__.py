"""AGC bitstream: HEIF/HEVC key frames plus entropy-coded FP16 keypoints (docs/bitstream.md)."""

from .clip import DecodedClip, bitrate, decode_clip, encode_clip
from .errors import CodecError
from .files import decode_file, encode_file

__all__ = [
    "CodecError",
    "DecodedClip",
    "bitrate",
    "decode_clip",
    "decode_file",
    "encode_clip",
    "encode_file",
]
