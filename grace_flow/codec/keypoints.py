"""Lossless entropy coding of FP16 keypoints, one GOP at a time.

Each keypoint coordinate is sent as its IEEE FP16 value. The 16-bit pattern is mapped to an
order-preserving int16 ("ordered code") so that nearby values have nearby codes, even across the
sign change; every frame is predicted from the previous one (the first frame of a GOP from zero, so
GOPs decode independently), and the zigzagged residuals are split into a low-byte plane and a
high-byte plane before raw DEFLATE. Slow motion gives residuals of a few units, so the high-byte
plane is nearly all zeros and DEFLATE codes it in a handful of bits. See docs/bitstream.md.
"""

from __future__ import annotations

import zlib

import numpy as np

from .errors import CodecError

# Raw DEFLATE (no zlib header or Adler-32): the container already carries a CRC-32 per chunk.
_WBITS = -15
_LEVEL = 9


def to_ordered_codes(values: np.ndarray) -> np.ndarray:
    """Map FP16 values to int16 codes that sort like the values; a bijection on all 2^16 patterns.

    Positive patterns keep their value; a negative pattern b maps to 0x7FFF - b, which sends
    -0.0 to -1 (not 0) so the sign of zero survives the round trip.
    """
    bits = values.astype(np.float16).view(np.uint16).astype(np.int32)
    codes = np.where(bits < 0x8000, bits, 0x7FFF - bits)
    return codes.astype(np.int16)


def from_ordered_codes(codes: np.ndarray) -> np.ndarray:
    """Inverse of `to_ordered_codes`: int16 codes back to FP16 values."""
    wide = codes.astype(np.int32)
    bits = np.where(wide >= 0, wide, 0x7FFF - wide)
    return bits.astype(np.uint16).view(np.float16)


def encode_keypoints(keypoints: np.ndarray) -> bytes:
    """Compress one GOP of keypoints `[n, K, 2]` (any float dtype, rounded to FP16) to a payload."""
    codes = to_ordered_codes(keypoints).reshape(len(keypoints), -1).astype(np.int32)
    previous = np.vstack([np.zeros_like(codes[:1]), codes[:-1]])
    # Residuals wrap modulo 2^16, so any pair of codes has a 16-bit residual.
    residual = (codes - previous).astype(np.int16).astype(np.int32)
    zigzag = ((residual << 1) ^ (residual >> 31)).astype(np.uint16)
    planes = np.concatenate([(zigzag & 0xFF).ravel(), (zigzag >> 8).ravel()]).astype(np.uint8)
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS)
    return compressor.compress(planes.tobytes()) + compressor.flush()


def decode_keypoints(payload: bytes, frames: int, num_kp: int) -> np.ndarray:
    """Decompress a payload back to FP16 keypoints `[frames, num_kp, 2]`.

    The output size is fixed by the arguments, so the decompressor is never allowed to produce
    more than that: a forged payload cannot expand into a large allocation.
    """
    expected = frames * num_kp * 2 * 2
    decompressor = zlib.decompressobj(_WBITS)
    try:
        planes = decompressor.decompress(payload, expected)
    except zlib.error as err:
        raise CodecError(f"keypoint payload is not valid DEFLATE data ({err})") from None
    shape = f"[{frames}, {num_kp}, 2] FP16"
    if len(planes) != expected:
        raise CodecError(
            f"keypoint payload decompresses to {len(planes)} bytes, expected {expected} for {shape}"
        )
    if not decompressor.eof:
        raise CodecError(
            f"keypoint payload does not end after the {expected} bytes of {shape}"
        )
    if decompressor.unconsumed_tail or decompressor.unused_data:
        raise CodecError("keypoint payload has bytes after the end of its DEFLATE stream")
    plane = np.frombuffer(planes, dtype=np.uint8).astype(np.uint16)
    half = expected // 2
    zigzag = (plane[:half] | (plane[half:] << 8)).astype(np.int32)
    residual = (zigzag >> 1) ^ -(zigzag & 1)
    codes = np.cumsum(residual.reshape(frames, -1), axis=0, dtype=np.int64).astype(np.int16)
    return from_ordered_codes(codes).reshape(frames, num_kp, 2)
