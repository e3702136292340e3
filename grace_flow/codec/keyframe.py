"""Key frames as HEIF/HEVC intra images (x265 to encode, libde265 to decode, via pillow-heif).

GRACE sends key frames as BPG, which is HEVC intra in a small wrapper; HEIF is the maintained
container around the same HEVC intra coding. Chroma is coded 4:4:4 (HEVC range extensions): at the
64-256 px sizes of talking-face clips it gives higher PSNR than 4:2:0 for no more bytes.

libheif is C code, so before libheif sees a payload its box structure is checked and the coded
picture size in its HEVC parameter sets is bounded by the container's geometry (hevc.py); the image
size libheif reports is checked before any pixels are decoded, and every error libheif raises
becomes a `CodecError`.
"""

from __future__ import annotations

import io

import numpy as np
import pillow_heif

from .errors import CodecError
from .hevc import check_coded_size, iso_boxes

_HEIC_BRANDS = (b"heic", b"heix", b"mif1")


def encode_key_frame(image: np.ndarray, quality: int) -> bytes:
    """Encode a uint8 RGB image `[H, W, 3]` as a lossy HEIF at `quality` (0-100)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise CodecError(f"key frame must be uint8 [H,W,3], got {image.dtype} {image.shape}")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
        raise CodecError(f"quality must be an integer in 0..100, got {quality!r}")
    height, width, _ = image.shape
    heif = pillow_heif.from_bytes(
        mode="RGB", size=(width, height), data=np.ascontiguousarray(image).tobytes()
    )
    buffer = io.BytesIO()
    # No colour profile box: encoder and decoder agree on the default matrix, so it only costs
    # bytes (20 per key frame).
    heif.save(buffer, quality=quality, chroma=444, save_nclx_profile=False)
    return buffer.getvalue()


def check_heif_structure(payload: bytes) -> None:
    """Reject a payload whose top-level ISO-BMFF boxes are not a plausible HEIF file.

    Checks: an `ftyp` box first with a HEIC brand, every box size within the payload (no 64-bit or
    to-end sizes), the boxes tiling the payload exactly, and both `meta` and `mdat` present.
    """
    kinds = [kind for kind, _, _ in iso_boxes(payload, 0, len(payload))]
    if not kinds or kinds[0] != b"ftyp":
        raise CodecError("HEIF payload does not start with an ftyp box")
    if payload[8:12] not in _HEIC_BRANDS:
        raise CodecError(f"HEIF brand {payload[8:12]!r} is not HEIC")
    for required in (b"meta", b"mdat"):
        if required not in kinds:
            raise CodecError(f"HEIF payload has no {required.decode()} box")


def decode_key_frame(payload: bytes, width: int, height: int) -> np.ndarray:
    """Decode a HEIF payload to a uint8 RGB image `[height, width, 3]`, or raise `CodecError`."""
    check_heif_structure(payload)
    check_coded_size(payload, width, height)
    try:
        heif = pillow_heif.open_heif(io.BytesIO(payload), convert_hdr_to_8bit=True)
        size, mode = heif.size, heif.mode
    except Exception as err:  # libheif reports parse failures with several exception types
        raise CodecError(f"HEIF header unreadable ({_one_line(err)})") from None
    if size != (width, height) or mode != "RGB":
        raise CodecError(f"HEIF image is {size[0]}x{size[1]} {mode}, expected {width}x{height} RGB")
    try:
        pixels = np.asarray(heif)
    except Exception as err:  # a corrupt HEVC slice surfaces only when pixels are decoded
        raise CodecError(f"HEVC data undecodable ({_one_line(err)})") from None
    if pixels.shape != (height, width, 3) or pixels.dtype != np.uint8:
        raise CodecError(f"HEIF decoded to {pixels.dtype} {pixels.shape}, expected uint8 RGB")
    return pixels.copy()


def _one_line(err: Exception) -> str:
    """libheif messages can span lines; keep the error message one line long."""
    return " ".join(str(err).split()) or type(err).__name__
