"""Compile-time lookup tables and fixed-point grids for the engines in numerics.py.

Float is allowed here: each builder runs once when the program is compiled, and the engines
receive only the integer table it returns. Every entry is rounded half up (floor(v + 0.5)).
docs/numerics.md gives each table's index, size, format and range.
"""

from collections.abc import Callable

import numpy as np

from grace_flow.quant.numerics import COORD_FRAC_BITS, UNIT_FRAC_BITS

#: Entries of the Gaussian table, indexed by the shifted squared distance (12-bit index).
GAUSS_TABLE_SIZE = 1 << 12
#: Squared distances are in Q26 (products of two Q13 offsets).
SQUARED_FRAC_BITS = 2 * COORD_FRAC_BITS
#: Largest keypoint variance served: beyond it, offsets clamped at |4| would still carry heat.
MAX_KP_VARIANCE = 0.5


def _round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5).astype(np.int64)


def build_table(
    fn: Callable[[np.ndarray], np.ndarray], in_scale: float, out_scale: float, out_dtype
) -> np.ndarray:
    """256-entry table of fn on int8 codes q: T[q + 128] = clamp(round(fn(q * s_in) / s_out)).

    s_in = in_scale, s_out = out_scale; the clamp is to the range of out_dtype. Sigmoid to the Q8
    occlusion map: out_scale=1/256, out_dtype=np.uint8; to an 8-bit image: out_scale=1/255.
    """
    info = np.iinfo(out_dtype)
    codes = np.arange(-128, 128, dtype=np.float64)
    values = _round_half_up(np.asarray(fn(codes * in_scale), dtype=np.float64) / out_scale)
    return np.clip(values, info.min, info.max).astype(out_dtype)


def pixel_table(scale: float) -> np.ndarray:
    """int8 code of each uint8 pixel p (image value p / 255): T[p] = clamp(round(p / 255 / scale)).

    With scale = 1/127, T[p] = round(127 p / 255): 0 -> 0, 255 -> 127 (never a tie).
    """
    values = _round_half_up(np.arange(256, dtype=np.float64) / 255.0 / scale)
    return np.clip(values, -128, 127).astype(np.int8)


def softmax_exp_table(in_scale: float) -> np.ndarray:
    """uint16 Q15 table of exp(-d * in_scale) for d = max - x in [0, 255]; entry 0 is 2^15."""
    distances = np.arange(256, dtype=np.float64)
    return _round_half_up(np.exp(-distances * in_scale) * (1 << UNIT_FRAC_BITS)).astype(np.uint16)


def gaussian_exp_table(kp_variance: float) -> tuple[np.ndarray, int]:
    """uint16 Q15 table of exp(-0.5 * D / kp_variance), and its index shift S.

    Index i stands for the squared distance D = i * 2^S in Q26. S is the smallest shift (>= 1)
    for which the table reaches the distance where the heat rounds to 0 in Q15; the engine
    clamps larger indices to the last entry, which is then 0.
    """
    if not 0 < kp_variance <= MAX_KP_VARIANCE:
        raise ValueError(f"gaussian_exp_table: kp_variance {kp_variance} not in (0, 0.5]")
    # exp(-0.5 D / var) < 2^-16 (rounds to 0 in Q15) once D > 2 var * 16 ln 2.
    zero_from_q26 = 2 * kp_variance * (UNIT_FRAC_BITS + 1) * np.log(2) * 2.0**SQUARED_FRAC_BITS
    index_shift = max(1, int(np.ceil(np.log2(zero_from_q26 / (GAUSS_TABLE_SIZE - 1)))))
    squared = np.ldexp(
        np.arange(GAUSS_TABLE_SIZE, dtype=np.float64), index_shift - SQUARED_FRAC_BITS
    )
    table = _round_half_up(np.exp(-0.5 * squared / kp_variance) * (1 << UNIT_FRAC_BITS))
    return table.astype(np.uint16), index_shift


def coordinate_grid(height: int, width: int) -> np.ndarray:
    """FOMM's make_coordinate_grid in int16 Q2.13, shape [H, W, 2] as (x, y).

    x_i = round_half_up((2 i - (W - 1)) * 2^13 / (W - 1)), computed exactly with integers.
    """
    if height < 2 or width < 2:
        raise ValueError(f"coordinate_grid: need at least 2x2, got {height}x{width}")

    def axis(size: int) -> np.ndarray:
        numerator = (2 * np.arange(size, dtype=np.int64) - (size - 1)) << COORD_FRAC_BITS
        # round half up of n / (size - 1) is floor((2 n + size - 1) / (2 (size - 1)))
        return (2 * numerator + (size - 1)) // (2 * (size - 1))

    xs, ys = axis(width), axis(height)
    grid = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), axis=-1)
    return grid.astype(np.int16)
