"""Encode and decode whole clips: key frame + FP16 keypoints per GOP, in the AGC container."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import container
from .errors import CodecError
from .keyframe import decode_key_frame, encode_key_frame
from .keypoints import decode_keypoints, encode_keypoints


@dataclass(frozen=True)
class DecodedClip:
    """What a receiver holds after decoding: one key frame per GOP and keypoints for every frame."""

    key_frames: np.ndarray  # uint8 [G, H, W, 3]
    keypoints: np.ndarray  # float32 [T, K, 2], exactly the transmitted FP16 values
    gop: int
    fps: float
    frame_count: int

    def key_frame_for(self, t: int) -> np.ndarray:
        """The key frame that frame `t` is rebuilt from (frame 0 of its GOP)."""
        if not 0 <= t < self.frame_count:
            raise IndexError(f"frame {t} is outside the clip's {self.frame_count} frames")
        return self.key_frames[t // self.gop]


def encode_clip(
    frames: np.ndarray, keypoints: np.ndarray, *, gop: int, fps: float, quality: int
) -> bytes:
    """Encode a clip: frame 0 of each `gop` frames becomes a HEIF key frame at `quality` (0-100),
    every frame's keypoints are sent as FP16. `frames` is uint8 `[T, H, W, 3]`, `keypoints` is
    float `[T, K, 2]`; the last GOP may be short."""
    header = _header_for(frames, keypoints, gop, fps)
    chunks = []
    for start in range(0, header.frame_count, gop):
        chunks.append(
            container.Chunk(
                key_frame=encode_key_frame(frames[start], quality),
                keypoints=encode_keypoints(keypoints[start : start + gop]),
            )
        )
    return container.pack(header, chunks)


def _header_for(
    frames: np.ndarray, keypoints: np.ndarray, gop: int, fps: float
) -> container.Header:
    """Check the encoder's arguments and build the header they describe."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4:
        raise CodecError(f"frames must be a uint8 array [T,H,W,3], got {_describe(frames)}")
    if not isinstance(keypoints, np.ndarray) or keypoints.dtype.kind != "f" or keypoints.ndim != 3:
        raise CodecError(f"keypoints must be a float array [T,K,2], got {_describe(keypoints)}")
    if keypoints.shape[0] != frames.shape[0] or keypoints.shape[2] != 2:
        raise CodecError(
            f"keypoints {keypoints.shape} do not match frames {frames.shape} (expected [T,K,2])"
        )
    if not np.all(np.isfinite(keypoints.astype(np.float16))):
        raise CodecError("keypoints contain NaN or values that overflow FP16")
    if isinstance(gop, bool) or not isinstance(gop, int):
        raise CodecError(f"gop must be an integer, got {gop!r}")
    frame_count, height, width, channels = frames.shape
    header = container.Header(
        width=width, height=height, channels=channels, num_kp=keypoints.shape[1],
        frame_count=frame_count, gop=gop, fps_milli=round(float(fps) * 1000),
    )
    container.check_header(header)
    return header


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {list(value.shape)}"
    return type(value).__name__


def decode_clip(data: bytes) -> DecodedClip:
    """Decode a bitstream; any malformation raises `CodecError` with a one-line message."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"bitstream must be bytes, got {type(data).__name__}")
    header, chunks = container.unpack(bytes(data))
    key_frames, keypoints = [], []
    for index, chunk in enumerate(chunks):
        frames = header.frames_in_gop(index)
        try:
            keypoints.append(decode_keypoints(chunk.keypoints, frames, header.num_kp))
            key_frames.append(decode_key_frame(chunk.key_frame, header.width, header.height))
        except CodecError as err:
            raise CodecError(f"GOP {index}: {err}") from None
    return DecodedClip(
        key_frames=np.stack(key_frames),
        keypoints=np.concatenate(keypoints).astype(np.float32),
        gop=header.gop,
        fps=header.fps_milli / 1000,
        frame_count=header.frame_count,
    )


def bitrate(data: bytes, *, frame_count: int, width: int, height: int, fps: float) -> dict:
    """Size of a bitstream as bytes, bits per pixel (8 * bytes / (frames * W * H)) and kbit/s,
    split into key frame, keypoint and container bytes (the three add up to `bytes`)."""
    header, chunks = container.unpack(bytes(data))
    given = {"frame_count": frame_count, "width": width, "height": height}
    for name, value in given.items():
        if value != getattr(header, name):
            raise CodecError(
                f"bitrate: {name} {value} disagrees with the bitstream header"
                f" ({getattr(header, name)})"
            )
    total = len(data)
    key_frame_bytes = sum(len(chunk.key_frame) for chunk in chunks)
    keypoint_bytes = sum(len(chunk.keypoints) for chunk in chunks)
    return {
        "bytes": total,
        "bits_per_pixel": 8 * total / (frame_count * width * height),
        "kbps": 8 * total * fps / frame_count / 1000,
        "key_frame_bytes": key_frame_bytes,
        "keypoint_bytes": keypoint_bytes,
        "container_bytes": total - key_frame_bytes - keypoint_bytes,
    }
