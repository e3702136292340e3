"""Read the coded picture size from the HEVC parameter sets of a HEIF file, before decoding it.

libheif only refuses pictures above one gigapixel, so a damaged sequence parameter set (SPS) could
make it allocate gigabytes for a key frame whose container says 64x64. Reading pic_width and
pic_height from every SPS in the `hvcC` boxes first bounds the decoder's allocation by the
container header. The parse follows ITU-T H.265 section 7.3.2.2 up to those two fields.
"""

from __future__ import annotations

from .errors import CodecError

_SPS_NAL_TYPE = 33
# Coded sizes are whole coding blocks; 64 is the largest HEVC coding tree block.
_MAX_BLOCK = 64


def iso_boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """The (type, body start, body end) of the ISO-BMFF boxes that must tile data[start:end].

    64-bit and to-the-end box sizes (0 and 1) are rejected: a key frame never needs them.
    """
    boxes = []
    while start < end:
        if end - start < 8:
            raise CodecError(f"HEIF box at byte {start} is cut off")
        size = int.from_bytes(data[start : start + 4], "big")
        if not 8 <= size <= end - start:
            raise CodecError(f"HEIF box at byte {start} has size {size}")
        boxes.append((data[start + 4 : start + 8], start + 8, start + size))
        start += size
    return boxes


def _find(data: bytes, path: list[bytes]) -> list[tuple[int, int]]:
    """Body ranges of every box reached by `path` from the top level (meta is a full box)."""
    ranges = [(0, len(data))]
    for kind in path:
        found = []
        for start, end in ranges:
            for child, body, body_end in iso_boxes(data, start, end):
                if child == kind:
                    found.append((body + 4 if kind == b"meta" else body, body_end))
        ranges = found
    return ranges


def _parameter_sets(hvcc: bytes) -> list[bytes]:
    """The SPS NAL units listed in an HEVCDecoderConfigurationRecord."""
    if len(hvcc) < 23:
        raise CodecError("hvcC box is too short")
    offset, sps = 23, []
    for _ in range(hvcc[22]):
        if offset + 3 > len(hvcc):
            raise CodecError("hvcC box is cut off")
        nal_type, count = hvcc[offset] & 0x3F, int.from_bytes(hvcc[offset + 1 : offset + 3], "big")
        offset += 3
        for _ in range(count):
            length = int.from_bytes(hvcc[offset : offset + 2], "big")
            if offset + 2 + length > len(hvcc):
                raise CodecError("hvcC box is cut off")
            if nal_type == _SPS_NAL_TYPE:
                sps.append(hvcc[offset + 2 : offset + 2 + length])
            offset += 2 + length
    return sps


class _Bits:
    """MSB-first bit reader over an RBSP (emulation prevention bytes already removed)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def read(self, count: int) -> int:
        if self.position + count > 8 * len(self.data):
            raise CodecError("SPS ends too early")
        value = 0
        for _ in range(count):
            byte = self.data[self.position // 8]
            value = (value << 1) | ((byte >> (7 - self.position % 8)) & 1)
            self.position += 1
        return value

    def unsigned_exp_golomb(self) -> int:
        zeros = 0
        while self.read(1) == 0:
            zeros += 1
            if zeros > 31:
                raise CodecError("SPS has an invalid Exp-Golomb code")
        return (1 << zeros) - 1 + self.read(zeros)


def coded_size(sps_nal: bytes) -> tuple[int, int]:
    """(pic_width_in_luma_samples, pic_height_in_luma_samples) of one SPS NAL unit."""
    rbsp = sps_nal[2:].replace(b"\x00\x00\x03", b"\x00\x00")
    bits = _Bits(rbsp)
    bits.read(4)  # sps_video_parameter_set_id
    sub_layers = bits.read(3)  # sps_max_sub_layers_minus1
    bits.read(1)  # sps_temporal_id_nesting_flag
    bits.read(96)  # general profile (88 bits) and level (8 bits)
    present = [(bits.read(1), bits.read(1)) for _ in range(sub_layers)]
    if sub_layers:
        bits.read(2 * (8 - sub_layers))  # reserved alignment bits
    for profile_present, level_present in present:
        bits.read(88 * profile_present + 8 * level_present)
    bits.unsigned_exp_golomb()  # sps_seq_parameter_set_id
    if bits.unsigned_exp_golomb() == 3:  # chroma_format_idc 4:4:4 has one more flag
        bits.read(1)
    return bits.unsigned_exp_golomb(), bits.unsigned_exp_golomb()


def check_coded_size(payload: bytes, width: int, height: int) -> None:
    """Require every SPS and every `ispe` (image spatial extent) box of the HEIF payload to declare
    at most `width` x `height`, padded to whole coding tree blocks: libheif sizes its buffers
    from both."""
    properties = [b"meta", b"iprp", b"ipco"]
    declared = []
    for start, end in _find(payload, properties + [b"hvcC"]):
        for sps in _parameter_sets(payload[start:end]):
            declared.append(("HEVC picture", coded_size(sps)))
    if not declared:
        raise CodecError("HEIF payload has no HEVC sequence parameter set")
    for start, end in _find(payload, properties + [b"ispe"]):
        if end - start != 12:
            raise CodecError(f"HEIF ispe box has {end - start} bytes, expected 12")
        extent_w = int.from_bytes(payload[start + 4 : start + 8], "big")
        extent_h = int.from_bytes(payload[start + 8 : end], "big")
        declared.append(("HEIF image extent", (extent_w, extent_h)))
    limit_w, limit_h = (-(-side // _MAX_BLOCK) * _MAX_BLOCK for side in (width, height))
    for what, (coded_w, coded_h) in declared:
        if not (0 < coded_w <= limit_w and 0 < coded_h <= limit_h):
            raise CodecError(f"{what} is {coded_w}x{coded_h}, too large for {width}x{height}")
