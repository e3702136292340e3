"""The numerics ops the quantize stage added: the input pixel table and the field resize."""

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grace_flow.quant import numerics as nm
from grace_flow.quant import tables as tb


def half_up(value, divisor=1):
    """floor(value / divisor + 1/2) in exact rational arithmetic."""
    return (Fraction(value) / divisor + Fraction(1, 2)).__floor__()


def reference_taps(in_size, out_size):
    """(i0, i1, Q8 fraction) per output index, from the rational source position."""
    taps = []
    for d in range(out_size):
        src = max(Fraction((2 * d + 1) * in_size - out_size, 2 * out_size), 0)
        src_q8 = half_up(src * 256)
        taps.append((src_q8 // 256, min(src_q8 // 256 + 1, in_size - 1), src_q8 % 256))
    return taps


@pytest.mark.parametrize("in_hw,out_hw", [((8, 8), (4, 4)), ((5, 7), (9, 3)), ((4, 4), (4, 4))])
def test_resize_field_matches_plain_python_and_torch(in_hw, out_hw):
    rng = np.random.default_rng(3)
    field = rng.integers(-32768, 32768, (2, *in_hw, 2)).astype(np.int16)
    field[0, 0, 0] = -32768  # the extreme values the int32 bound is about
    field[1, 0, 0] = 32767
    got = nm.resize_field_bilinear(field, *out_hw)
    assert got.dtype == np.int16 and got.shape == (2, *out_hw, 2)
    rows, cols = reference_taps(in_hw[0], out_hw[0]), reference_taps(in_hw[1], out_hw[1])
    for n, r, s, k in np.ndindex(got.shape):
        (r0, r1, fy), (c0, c1, fx) = rows[r], cols[s]
        v = field[n, :, :, k].astype(int)
        total = ((256 - fy) * ((256 - fx) * v[r0, c0] + fx * v[r0, c1])
                 + fy * ((256 - fx) * v[r1, c0] + fx * v[r1, c1]))
        assert int(got[n, r, s, k]) == half_up(total, 1 << 16)
    if in_hw == out_hw:
        assert np.array_equal(got, field)
    expected = F.interpolate(torch.tensor(field, dtype=torch.float64).permute(0, 3, 1, 2),
                             size=out_hw, mode="bilinear").permute(0, 2, 3, 1).numpy()
    # Q8 source position: at most 1/512 pixel off on steps up to 65535, plus 0.5 rounding
    assert np.abs(got - expected).max() <= 0.5 + 65535 / 512


@pytest.mark.parametrize("value", [-32768, 32767])
def test_resize_field_of_a_constant_extreme_is_that_constant(value):
    # every tap at the extreme: the weighted sum reaches value · 2^16 (-2^31 for -32768)
    field = np.full((1, 5, 7, 2), value, np.int16)
    assert np.all(nm.resize_field_bilinear(field, 9, 4) == value)
    assert np.all(nm.resize_map_bilinear(np.full((1, 1, 5, 7), 255, np.uint8), 9, 4) == 255)


def test_resize_field_rejects_other_types():
    with pytest.raises(TypeError, match="^field must be int16"):
        nm.resize_field_bilinear(np.zeros((1, 2, 2, 2), np.int32), 4, 4)


def test_pixel_table_and_conversion():
    table = tb.pixel_table(1 / 127)
    expected = [half_up(127 * p, 255) for p in range(256)]
    assert table.dtype == np.int8 and table.tolist() == expected
    assert (table[0], table[255]) == (0, 127)
    pixels = np.array([[0, 1, 2, 128, 254, 255]], np.uint8)
    assert np.array_equal(nm.pixels_to_int8(pixels, table), [[0, 0, 1, 64, 127, 127]])
    coarse = tb.pixel_table(2 / 127)  # a shared, larger scale halves the codes
    assert coarse[255] == 64 and coarse.max() == 64
    with pytest.raises(TypeError, match="^pixels must be uint8"):
        nm.pixels_to_int8(pixels.astype(np.int16), table)
