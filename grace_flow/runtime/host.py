"""Host side of the co-processor: what the ARM driver does around the engines, once per frame.

The key frame goes to DDR as planar uint8 pixels [3, H, W] (the pixel-table instruction makes
the int8 source of it); keypoints are converted from FP16 to int16 Q2.13 here, once, with the
integer-only decoding of docs/numerics.md §9 (no float unit needed); outputs and tensors are
read back from their DDR offsets in the program's listing.
"""

from __future__ import annotations

import numpy as np

from grace_flow.errors import FlowError


class HostError(FlowError):
    """Inputs the driver cannot hand to the co-processor."""


def kp_to_q13(kp_fp16: np.ndarray) -> np.ndarray:
    """FP16 keypoints → int16 Q2.13, rounded half up, saturated (numerics.md §9, integers only)."""
    bits = np.asarray(kp_fp16, dtype=np.float16).view(np.uint16).astype(np.int64)
    sign, exponent, fraction = bits >> 15, (bits >> 10) & 31, bits & 1023
    if np.any(exponent == 31):
        raise HostError("host: a keypoint is NaN or infinite: check the keypoint detector")
    magnitude = np.where(exponent == 0, fraction, fraction + 1024)
    value = np.where(sign == 1, -magnitude, magnitude)
    k = 12 - np.maximum(exponent, 1)  # value · 2^13 = value · 2^-k
    right = (value + (np.int64(1) << np.maximum(k - 1, 0))) >> np.maximum(k, 0)
    left = value << np.maximum(-k, 0)
    return np.clip(np.where(k > 0, right, left), -32768, 32767).astype(np.int16)


def _span(program, name: str) -> tuple[int, int, np.dtype, list[int]]:
    entry = program.tensors[name]
    return entry["offset"], entry["bytes"], np.dtype(entry["format"]["dtype"]), entry["shape"]


def write_tensor(ddr: np.ndarray, program, name: str, values: np.ndarray) -> None:
    """Copy ``values`` (little-endian, C order) to tensor ``name``'s place in ``ddr``."""
    offset, size, dtype, shape = _span(program, name)
    values = np.asarray(values)
    if list(values.shape) != list(shape):
        raise HostError(f"host: {name} has shape {list(values.shape)}, the program expects "
                        f"{list(shape)}: check the inputs")
    ddr[offset:offset + size] = np.ascontiguousarray(values.astype(dtype.newbyteorder("<"))
                                                     ).view(np.uint8).reshape(-1)


def read_tensor(ddr: np.ndarray, program, name: str) -> np.ndarray:
    """A copy of tensor ``name`` from ``ddr`` in its format's dtype and its shape."""
    offset, size, dtype, shape = _span(program, name)
    return ddr[offset:offset + size].view(dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def write_inputs(ddr: np.ndarray, program, source_u8: np.ndarray, kp_source_fp16: np.ndarray,
                 kp_driving_fp16: np.ndarray) -> None:
    """Place one frame's inputs: key frame [H, W, 3] uint8, keypoints [K, 2] FP16."""
    source_u8 = np.asarray(source_u8)
    if source_u8.dtype != np.uint8 or source_u8.ndim != 3:
        raise HostError(f"host: the key frame must be uint8 [H, W, 3], got {source_u8.dtype} "
                        f"{list(source_u8.shape)}")
    io = program.io
    write_tensor(ddr, program, io["input.source_u8"], source_u8.transpose(2, 0, 1))
    write_tensor(ddr, program, io["input.kp_source_fp16"], kp_to_q13(kp_source_fp16))
    write_tensor(ddr, program, io["input.kp_driving_fp16"], kp_to_q13(kp_driving_fp16))
