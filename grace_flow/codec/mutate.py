"""Random mutations of a valid bitstream, for the fuzz test and `bench/codec_fuzz.py`.

Plain byte damage is mostly caught by the CRCs, so two kinds of mutation recompute them: header
field edits (reaching the range and size checks) and payload damage inside a GOP (reaching the
DEFLATE decoder and libheif). Together they cover every layer of the decoder.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from . import container
from .clip import decode_clip
from .errors import CodecError

# (offset, struct format) of each header field after the magic.
_HEADER_FIELDS = [(4, "<H"), (6, "<H"), (8, "<H"), (10, "<B"), (11, "<B"), (12, "<I"),
                  (16, "<H"), (18, "<I")]
_HEADER_FIELDS_END = container.HEADER_SIZE - 4


def _bit_flips(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(rng.integers(1, 5)):
        bit = int(rng.integers(len(out) * 8))
        out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _overwrite(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    start = int(rng.integers(len(out)))
    patch = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
    out[start : start + len(patch)] = patch[: len(out) - start]
    return bytes(out)


def _truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(len(data)))]


def _insert(data: bytes, rng: np.random.Generator) -> bytes:
    at = int(rng.integers(len(data) + 1))
    patch = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
    return data[:at] + patch + data[at:]


def _delete(data: bytes, rng: np.random.Generator) -> bytes:
    at = int(rng.integers(len(data)))
    return data[:at] + data[at + int(rng.integers(1, 9)) :]


def _header_edit(data: bytes, rng: np.random.Generator) -> bytes:
    """Set one header field to an extreme or random value and fix the header CRC."""
    offset, fmt = _HEADER_FIELDS[int(rng.integers(len(_HEADER_FIELDS)))]
    top = (1 << (8 * struct.calcsize(fmt))) - 1
    value = int(rng.choice([0, 1, 2, top, top - 1, int(rng.integers(top + 1))]))
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    struct.pack_into("<I", out, _HEADER_FIELDS_END, zlib.crc32(out[:_HEADER_FIELDS_END]))
    return bytes(out)


def _payload_damage(data: bytes, rng: np.random.Generator) -> bytes:
    """Damage a key frame or keypoint payload, then repack so all CRCs are valid again."""
    header, chunks = container.unpack(data)
    index = int(rng.integers(len(chunks)))
    chunk = chunks[index]
    damage = [_bit_flips, _overwrite, _truncate, _insert, _delete][int(rng.integers(5))]
    if rng.random() < 0.5:
        chunk = container.Chunk(damage(chunk.key_frame, rng) or b"\0", chunk.keypoints)
    else:
        chunk = container.Chunk(chunk.key_frame, damage(chunk.keypoints, rng) or b"\0")
    return container.pack(header, chunks[:index] + [chunk] + chunks[index + 1 :])


MUTATIONS = {
    "bit_flip": _bit_flips,
    "overwrite": _overwrite,
    "truncate": _truncate,
    "insert": _insert,
    "delete": _delete,
    "header_edit": _header_edit,
    "payload_damage": _payload_damage,
}


@dataclass
class FuzzReport:
    """Outcome counts of a fuzz run and its slowest decode."""

    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest_seconds: float = 0.0
    slowest_mutation: str = ""


def fuzz(data: bytes, count: int, seed: int) -> FuzzReport:
    """Decode `count` random mutations of `data`; tally `decoded` / `CodecError: <kind>` outcomes.

    Any other exception is recorded in `failures` (the decoder must never raise one).
    """
    rng = np.random.default_rng(seed)
    names = list(MUTATIONS)
    report = FuzzReport()
    for number in range(count):
        name = names[number % len(names)]
        mutated = MUTATIONS[name](data, rng)
        start = time.perf_counter()
        try:
            decode_clip(mutated)
            outcome = "decoded"
        except CodecError as err:
            outcome = f"CodecError: {_error_kind(str(err))}"
        except Exception as err:  # noqa: BLE001 - the point is to catch what should not happen
            outcome = "other exception"
            report.failures.append(f"#{number} {name}: {type(err).__name__}: {err}")
        elapsed = time.perf_counter() - start
        if elapsed > report.slowest_seconds:
            report.slowest_seconds, report.slowest_mutation = elapsed, f"#{number} {name}"
        report.outcomes[f"{name} -> {outcome}"] += 1
    return report


def _error_kind(message: str) -> str:
    """Group messages by their shape: drop numbers and quoted bytes, keep the words."""
    words = [w for w in message.split() if not any(c.isdigit() for c in w) and "'" not in w]
    return " ".join(words[:7])
