"""Every malformation gives a CodecError with one exact, one-line message."""

import re
import struct
import zlib

import numpy as np
import pytest

from grace_flow.codec import CodecError, container, decode_clip, decode_file, encode_clip
from grace_flow.codec.hevc import iso_boxes

HEADER = 26  # 22 bytes of fields + the header CRC


def with_header_field(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Edit one header field and re-seal the header CRC, so the field check is what fails."""
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    struct.pack_into("<I", out, 22, zlib.crc32(out[:22]))
    return bytes(out)


def with_payload(data: bytes, index: int, **payloads: bytes) -> bytes:
    """The clip with GOP `index`'s payloads replaced and every CRC valid again."""
    header, chunks = container.unpack(data)
    old = chunks[index]
    chunks[index] = container.Chunk(
        payloads.get("key_frame", old.key_frame), payloads.get("keypoints", old.keypoints)
    )
    return container.pack(header, chunks)


def box_body(heif: bytes, kind: bytes, inside: tuple[bytes, ...] = ()) -> tuple[int, int]:
    """(start, end) of the body of the first `kind` box, descending through `inside`."""
    start, end = 0, len(heif)
    for level in inside + (kind,):
        start, end = next((b, e) for k, b, e in iso_boxes(heif, start, end) if k == level)
        start += 4 if level == b"meta" else 0
    return start, end


def expect(data: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=f"^{re.escape(message)}$"):
        decode_clip(data)


def test_truncation_magic_version_and_trailing_bytes(tiny_clip):
    data = tiny_clip[2]
    key0 = len(container.unpack(data)[1][0].key_frame)
    expect(b"", "truncated at byte 0 (header needs 22 bytes, 0 left)")
    expect(b"AGC", "truncated at byte 0 (header needs 22 bytes, 3 left)")
    expect(b"RIFF" + data[4:], "not an AGC bitstream (starts with b'RIFF', expected b'AGCF')")
    expect(data[:24], "truncated at byte 22 (header CRC needs 4 bytes, 2 left)")
    expect(data[:4] + b"\x07\x00" + data[6:],
           "unsupported version 7 (this decoder reads version 1)")
    expect(data[:40], "truncated at byte 26 (3 GOPs need at least 42 bytes, 14 left)")
    expect(data[:130], f"truncated at byte 30 (GOP 0 key frame needs {key0} bytes, 100 left)")
    expect(data[:-2], f"truncated at byte {len(data) - 4} (GOP 2 CRC needs 4 bytes, 2 left)")
    expect(data + b"\0\0\0", f"3 trailing bytes after the last GOP (at byte {len(data)})")


def test_crc_mismatches(tiny_clip):
    data = tiny_clip[2]
    corrupt = data[:6] + bytes([data[6] ^ 1]) + data[7:]
    expect(corrupt, f"header CRC mismatch (stored {zlib.crc32(data[:22]):#010x},"
                    f" computed {zlib.crc32(corrupt[:22]):#010x})")
    flipped = bytearray(data)
    flipped[HEADER + 40] ^= 0x80
    with pytest.raises(CodecError, match=r"^GOP 0 CRC mismatch at byte 26 \(stored 0x[0-9a-f]{8},"
                                         r" computed 0x[0-9a-f]{8}\)$"):
        decode_clip(bytes(flipped))


def test_swapped_gops_fail_because_the_crc_covers_the_gop_index(tiny_clip):
    data = tiny_clip[2]
    chunks = container.unpack(data)[1]
    first, second = (12 + len(c.key_frame) + len(c.keypoints) for c in chunks[:2])
    swapped = (data[:HEADER] + data[HEADER + first : HEADER + first + second]
               + data[HEADER : HEADER + first] + data[HEADER + first + second :])
    with pytest.raises(CodecError, match=r"^GOP 0 CRC mismatch at byte 26 "):
        decode_clip(swapped)


@pytest.mark.parametrize(
    "offset,fmt,value,message",
    [
        (6, "<H", 0, "header field width = 0 is outside 1..4096"),
        (8, "<H", 5000, "header field height = 5000 is outside 1..4096"),
        (10, "<B", 4, "header field channels = 4 is outside 3..3"),
        (11, "<B", 200, "header field num_kp = 200 is outside 1..64"),
        (12, "<I", 0xFFFFFFFF, "header field frame_count = 4294967295 is outside 1..1048576"),
        (16, "<H", 0, "header field gop = 0 is outside 1..65535"),
        (18, "<I", 0, "header field fps_milli = 0 is outside 1..1000000"),
    ],
)
def test_header_fields_out_of_range(tiny_clip, offset, fmt, value, message):
    expect(with_header_field(tiny_clip[2], offset, fmt, value), message)


def test_header_geometry_that_disagrees_with_the_chunks(tiny_clip):
    data = tiny_clip[2]
    expect(with_header_field(data, 12, "<I", 9),
           "GOP 2: keypoint payload does not end after the 20 bytes of [1, 5, 2] FP16")
    expect(with_header_field(data, 11, "<B", 6),
           "GOP 0: keypoint payload decompresses to 80 bytes, expected 96 for [4, 6, 2] FP16")
    expect(with_header_field(data, 6, "<H", 100),
           "GOP 0: HEIF image is 16x16 RGB, expected 100x16 RGB")
    expect(with_header_field(data, 12, "<I", 13),
           f"truncated at byte {len(data)} (GOP 3 key frame size needs 4 bytes, 0 left)")
    chunks = container.unpack(data)[1]
    two_gops = HEADER + sum(12 + len(c.key_frame) + len(c.keypoints) for c in chunks[:2])
    expect(with_header_field(data, 16, "<H", 5),
           f"{len(data) - two_gops} trailing bytes after the last GOP (at byte {two_gops})")


def test_garbage_payloads_never_reach_libheif_unchecked(tiny_clip):
    data = tiny_clip[2]
    heif = container.unpack(data)[1][1].key_frame
    expect(with_payload(data, 1, key_frame=b"garbage!"),
           "GOP 1: HEIF box at byte 0 has size 1734439522")
    expect(with_payload(data, 1, key_frame=b"\0\0\0\x10ftypavif\0\0\0\0"),
           "GOP 1: HEIF brand b'avif' is not HEIC")
    start, end = box_body(heif, b"ispe", (b"meta", b"iprp", b"ipco"))
    huge = heif[: start + 4] + struct.pack(">II", 200, 200) + heif[end:]
    expect(with_payload(data, 1, key_frame=huge),
           "GOP 1: HEIF image extent is 200x200, too large for 16x16")
    start, end = box_body(heif, b"mdat")
    zeroed = heif[: start + 4] + bytes(end - start - 4)
    expect(with_payload(data, 1, key_frame=zeroed),
           "GOP 1: HEVC data undecodable (Decoder plugin generated an error: Unspecified:"
           " Decoding the input data did not give a decompressed image.)")
    expect(with_payload(data, 1, keypoints=b"\xff\xff"), "GOP 1: keypoint payload is not valid"
           " DEFLATE data (Error -3 while decompressing data: invalid block type)")
    keypoints = container.unpack(data)[1][1].keypoints
    expect(with_payload(data, 1, keypoints=keypoints + b"xx"),
           "GOP 1: keypoint payload has bytes after the end of its DEFLATE stream")


def test_decode_file_names_the_file(tmp_path, tiny_clip):
    path = tmp_path / "clip.agc"
    path.write_bytes(tiny_clip[2][:130])
    with pytest.raises(CodecError, match=rf"^{re.escape(str(path))}: truncated at byte 30 "):
        decode_file(path)
    with pytest.raises(CodecError, match=rf"^{re.escape(str(tmp_path))}/missing.agc: cannot read"
                                         r" \(No such file or directory\)$"):
        decode_file(tmp_path / "missing.agc")


@pytest.mark.parametrize(
    "change,message",
    [
        ({"frames": "float"}, "frames must be a uint8 array [T,H,W,3], got float64 [2, 8, 8, 3]"),
        ({"keypoints": "short"}, "keypoints (1, 3, 2) do not match frames (2, 8, 8, 3)"
                                 " (expected [T,K,2])"),
        ({"keypoints": "nan"}, "keypoints contain NaN or values that overflow FP16"),
        ({"gop": 0}, "header field gop = 0 is outside 1..65535"),
        ({"gop": 2.0}, "gop must be an integer, got 2.0"),
        ({"fps": 0.0001}, "header field fps_milli = 0 is outside 1..1000000"),
        ({"quality": 101}, "quality must be an integer in 0..100, got 101"),
    ],
)
def test_encoder_argument_errors(change, message):
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    keypoints = np.zeros((2, 3, 2))
    args = {"gop": 2, "fps": 25.0, "quality": 50}
    if change.get("frames") == "float":
        frames = frames.astype(np.float64)
    if change.get("keypoints") == "short":
        keypoints = keypoints[:1]
    if change.get("keypoints") == "nan":
        keypoints[1, 2, 0] = np.nan
    args.update({k: v for k, v in change.items() if k in args})
    with pytest.raises(CodecError, match=f"^{re.escape(message)}$"):
        encode_clip(frames, keypoints, **args)
