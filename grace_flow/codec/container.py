"""The AGC container: a fixed header, then one CRC-protected chunk per GOP (docs/bitstream.md).

This module only frames bytes: it checks magic, version, CRCs, field ranges and every size against
the bytes that are actually left before slicing anything, so a forged header can neither trigger a
large allocation nor a long loop. Decoding the payloads is `clip.py`'s job.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

from .errors import CodecError

MAGIC = b"AGCF"
VERSION = 1
# magic, version, width, height, channels, num_kp, frame_count, gop, fps x 1000; then the CRC.
_HEADER = struct.Struct("<4sHHHBBIHI")
_U32 = struct.Struct("<I")
HEADER_SIZE = _HEADER.size + _U32.size

MAX_SIDE = 4096
MAX_KEYPOINTS = 64
MAX_FRAMES = 1 << 20
MAX_GOP = 0xFFFF
MAX_FPS_MILLI = 1_000_000
# Two size fields, a CRC, and at least one byte of each payload.
MIN_CHUNK_SIZE = 3 * _U32.size + 2


@dataclass(frozen=True)
class Header:
    """The clip-level fields of a bitstream."""

    width: int
    height: int
    channels: int
    num_kp: int
    frame_count: int
    gop: int
    fps_milli: int

    @property
    def gop_count(self) -> int:
        """Number of GOPs (the last one may be shorter than `gop`)."""
        return math.ceil(self.frame_count / self.gop)

    def frames_in_gop(self, index: int) -> int:
        """Number of frames in GOP `index`."""
        return min(self.gop, self.frame_count - index * self.gop)


@dataclass(frozen=True)
class Chunk:
    """The two payloads of one GOP, still encoded."""

    key_frame: bytes
    keypoints: bytes


_LIMITS = {
    "width": (1, MAX_SIDE),
    "height": (1, MAX_SIDE),
    "channels": (3, 3),
    "num_kp": (1, MAX_KEYPOINTS),
    "frame_count": (1, MAX_FRAMES),
    "gop": (1, MAX_GOP),
    "fps_milli": (1, MAX_FPS_MILLI),
}


def check_header(header: Header) -> None:
    """Raise `CodecError` naming the first header field outside its allowed range."""
    for name, (low, high) in _LIMITS.items():
        value = getattr(header, name)
        if not low <= value <= high:
            raise CodecError(f"header field {name} = {value} is outside {low}..{high}")


def pack(header: Header, chunks: list[Chunk]) -> bytes:
    """Serialize a header and its GOP chunks into one bitstream."""
    check_header(header)
    if len(chunks) != header.gop_count:
        raise CodecError(f"{len(chunks)} GOP chunks given, header needs {header.gop_count}")
    fields = _HEADER.pack(
        MAGIC, VERSION, header.width, header.height, header.channels, header.num_kp,
        header.frame_count, header.gop, header.fps_milli,
    )
    parts = [fields, _U32.pack(zlib.crc32(fields))]
    for index, chunk in enumerate(chunks):
        body = (
            _U32.pack(len(chunk.key_frame)) + chunk.key_frame
            + _U32.pack(len(chunk.keypoints)) + chunk.keypoints
        )
        parts += [body, _U32.pack(_chunk_crc(index, body))]
    return b"".join(parts)


def _chunk_crc(index: int, body: bytes) -> int:
    """CRC-32 of the GOP index followed by the chunk, so swapped or repeated chunks are caught."""
    return zlib.crc32(body, zlib.crc32(_U32.pack(index)))


class _Reader:
    """Sequential reads that fail with the offset, the field, and how many bytes are missing."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset

    @property
    def left(self) -> int:
        return len(self.data) - self.offset

    def take(self, size: int, what: str) -> bytes:
        if size > self.left:
            raise CodecError(
                f"truncated at byte {self.offset} ({what} needs {size} bytes, {self.left} left)"
            )
        start, self.offset = self.offset, self.offset + size
        return self.data[start : self.offset]

    def u32(self, what: str) -> int:
        return _U32.unpack(self.take(_U32.size, what))[0]


def parse_header(data: bytes) -> Header:
    """Check and return the header of a bitstream (magic, version, CRC, field ranges)."""
    head = data[: len(MAGIC)]
    if head != MAGIC[: len(head)]:
        raise CodecError(f"not an AGC bitstream (starts with {head!r}, expected {MAGIC!r})")
    reader = _Reader(data, 0)
    fields = reader.take(_HEADER.size, "header")
    magic, version, *values = _HEADER.unpack(fields)
    if version != VERSION:
        raise CodecError(f"unsupported version {version} (this decoder reads version {VERSION})")
    stored = reader.u32("header CRC")
    if stored != zlib.crc32(fields):
        raise CodecError(
            f"header CRC mismatch (stored {stored:#010x}, computed {zlib.crc32(fields):#010x})"
        )
    header = Header(*values)
    check_header(header)
    return header


def unpack(data: bytes) -> tuple[Header, list[Chunk]]:
    """Split a bitstream into its header and GOP chunks, verifying every size and CRC."""
    header = parse_header(data)
    reader = _Reader(data, HEADER_SIZE)
    needed = header.gop_count * MIN_CHUNK_SIZE
    if needed > reader.left:
        raise CodecError(
            f"truncated at byte {reader.offset} ({header.gop_count} GOPs need at least"
            f" {needed} bytes, {reader.left} left)"
        )
    chunks = []
    for index in range(header.gop_count):
        start = reader.offset
        key_frame = reader.take(reader.u32(f"GOP {index} key frame size"), f"GOP {index} key frame")
        keypoints = reader.take(reader.u32(f"GOP {index} keypoint size"), f"GOP {index} keypoints")
        body = data[start : reader.offset]
        stored = reader.u32(f"GOP {index} CRC")
        if stored != _chunk_crc(index, body):
            raise CodecError(
                f"GOP {index} CRC mismatch at byte {start}"
                f" (stored {stored:#010x}, computed {_chunk_crc(index, body):#010x})"
            )
        for name, payload in (("key frame", key_frame), ("keypoint", keypoints)):
            if not payload:
                raise CodecError(f"GOP {index} has an empty {name} payload")
        chunks.append(Chunk(bytes(key_frame), bytes(keypoints)))
    if reader.left:
        raise CodecError(
            f"{reader.left} trailing bytes after the last GOP (at byte {reader.offset})"
        )
    return header, chunks
