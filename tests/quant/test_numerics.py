"""Integer numerics: every op against a scalar reference written from docs/numerics.md, exactly,
plus precision against float (torch) with the tolerances stated in each test."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grace_flow.quant import numerics as nm
from grace_flow.quant import tables as tb


def half_up(numerator: int, denominator: int = 1) -> int:
    """Exact round-half-up of a rational, the reference for every rounding."""

    def exact(value):
        return value if isinstance(value, Fraction) else Fraction(int(value))

    return math.floor(exact(numerator) / exact(denominator) + Fraction(1, 2))


def sat(value: int, low: int = -128, high: int = 127) -> int:
    return max(low, min(high, value))


def rng_for(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- round_shift, sat -----------------------------------------------------------------------------


def test_round_shift_ties_and_negatives():
    values = np.array([5, -5, -3, 3, 6, -6, -2, 2, -1, 1, 0], dtype=np.int64)
    assert nm.round_shift(values, 1).tolist() == [3, -2, -1, 2, 3, -3, -1, 1, 0, 1, 0]
    assert nm.round_shift(np.array([6, -6, -10, 10]), 2).tolist() == [2, -1, -2, 3]


def test_round_shift_matches_rational_rounding():
    rng = rng_for(1)
    values = rng.integers(-(1 << 40), 1 << 40, 2000)
    shifts = rng.integers(1, 40, 2000)
    expected = [half_up(v, 1 << s) for v, s in zip(values.tolist(), shifts.tolist(), strict=True)]
    assert nm.round_shift(values, shifts).tolist() == expected


def test_round_shift_rejects_bad_shift_and_floats():
    with pytest.raises(ValueError):
        nm.round_shift(np.array([1]), 0)
    with pytest.raises(TypeError):
        nm.round_shift(np.array([1.0]), 1)


def test_sat_int8_and_int16():
    assert nm.sat_int8(np.array([-1000, -129, -128, 0, 127, 128, 1000])).tolist() == [
        -128,
        -128,
        -128,
        0,
        127,
        127,
        127,
    ]
    assert nm.sat_int16(np.array([-40000, 40000])).tolist() == [-32768, 32767]


# --- quantize_multiplier, requantize --------------------------------------------------------------


def test_quantize_multiplier_edge_cases():
    mult, shift = nm.quantize_multiplier([1.0, 0.5, 1 - 2.0**-40, 2.0**-32, -0.75, 2.0**29])
    assert mult.tolist() == [1 << 30, 1 << 30, 1 << 30, 1 << 30, -(3 << 29), 1 << 30]
    assert shift.tolist() == [30, 31, 30, 62, 31, 1]
    for bad in (0.0, float("nan"), float("inf"), 2.0**-33, 2.0**30):
        with pytest.raises(ValueError):
            nm.quantize_multiplier(bad)


def test_quantize_multiplier_relative_error():
    reals = np.exp(rng_for(2).uniform(np.log(2.0**-30), np.log(2.0**20), 5000))
    mult, shift = nm.quantize_multiplier(reals)
    assert np.all((mult >= 1 << 30) & (mult <= (1 << 31) - 1))
    approx = np.ldexp(mult.astype(np.float64), -shift.astype(np.int64))
    assert np.all(np.abs(approx - reals) <= reals * 2.0**-31)


def reference_requantize(acc, mult, shift, relu):
    out = np.zeros(acc.shape, dtype=np.int64)
    for n, c, h in np.ndindex(acc.shape):
        value = half_up(int(acc[n, c, h]) * int(mult[c]), 1 << int(shift[c]))
        out[n, c, h] = sat(max(value, 0) if relu else value)
    return out


@pytest.mark.parametrize("relu", [False, True])
def test_requantize_matches_reference(relu):
    rng = rng_for(3)
    acc = rng.integers(-(1 << 31), 1 << 31, (2, 4, 30), dtype=np.int64).astype(np.int32)
    acc[0, :, :4] = [[nm.INT32_MIN, nm.INT32_MAX, 0, -1]] * 4
    mult, shift = nm.quantize_multiplier(np.exp(rng.uniform(-25, 0, 4)))
    got = nm.requantize(acc, mult, shift, relu)
    assert got.dtype == np.int8
    assert np.array_equal(got, reference_requantize(acc, mult, shift, relu))


def test_requantize_ties_and_saturation():
    # real 0.5: odd accumulators are exact ties.
    mult, shift = nm.quantize_multiplier(0.5)
    acc = np.array([[3, -3, 1, -1, 253, 255, 257, -255, -257, -259]], dtype=np.int32)
    assert nm.requantize(acc, mult, shift, False).tolist() == [
        [2, -1, 1, 0, 127, 127, 127, -127, -128, -128]
    ]
    assert nm.requantize(acc, mult, shift, True).tolist() == [[2, 0, 1, 0, 127, 127, 127, 0, 0, 0]]


def test_requantize_precision_against_float():
    """|q - acc * real| <= 0.5 + |acc * real| * 2^-31 wherever the result does not saturate."""
    rng = rng_for(4)
    reals = np.exp(rng.uniform(-16, 0, 8))
    acc = (rng.uniform(-127, 127, (3, 8, 50)) / reals[None, :, None]).astype(np.int32)
    mult, shift = nm.quantize_multiplier(reals)
    exact = acc * reals[None, :, None]
    error = np.abs(nm.requantize(acc, mult, shift, False) - exact)
    assert error.max() <= 0.5 + 127 * 2.0**-31


def test_requantize_rejects_wide_accumulator():
    with pytest.raises(ValueError):
        nm.requantize(np.array([[1 << 31]], dtype=np.int64), 1 << 30, 31, False)


# --- conv, pool, upsample -------------------------------------------------------------------------


def reference_conv(x, w, bias, stride, padding, upsample):
    if upsample:
        n, c, h, wd = x.shape
        big = np.zeros((n, c, 2 * h, 2 * wd), dtype=np.int64)
        for i, j, r, s in np.ndindex(n, c, 2 * h, 2 * wd):
            big[i, j, r, s] = x[i, j, r // 2, s // 2]
        x = big
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, ho, wo), dtype=np.int64)
    for i, oc, r, s in np.ndindex(n, o, ho, wo):
        total = int(bias[oc])
        for ic, ky, kx in np.ndindex(c, kh, kw):
            row, col = r * stride + ky - padding, s * stride + kx - padding
            if 0 <= row < h and 0 <= col < wd:
                total += int(x[i, ic, row, col]) * int(w[oc, ic, ky, kx])
        out[i, oc, r, s] = total
    return out


@pytest.mark.parametrize(
    "kernel,stride,padding,upsample",
    [
        (3, 1, 1, False),
        (3, 2, 1, False),
        (1, 1, 0, False),
        (3, 1, 1, True),
        (7, 1, 3, False),
        (3, 2, 0, True),
    ],
)
def test_conv2d_matches_reference(kernel, stride, padding, upsample):
    rng = rng_for(5)
    x = rng.integers(-128, 128, (2, 3, 5, 6), dtype=np.int8)
    w = rng.integers(-127, 128, (4, 3, kernel, kernel), dtype=np.int8)
    bias = rng.integers(-(1 << 20), 1 << 20, 4).astype(np.int32)
    got = nm.conv2d_int8(x, w, bias, stride, padding, upsample)
    assert got.dtype == np.int32
    assert np.array_equal(got, reference_conv(x, w, bias, stride, padding, upsample))


def test_conv2d_extreme_values_and_bound():
    x = np.full((1, 8, 3, 3), -128, dtype=np.int8)
    w = np.full((2, 8, 3, 3), -127, dtype=np.int8)
    bias = np.array([nm.INT32_MAX - 72 * 128 * 128, 0], dtype=np.int32)
    got = nm.conv2d_int8(x, w, bias, 1, 1, False)
    assert got[0, 0, 1, 1] == bias[0] + 72 * 128 * 127
    big = np.zeros((1, 16000, 3, 3), dtype=np.int8)
    with pytest.raises(ValueError, match="exceeds int32"):
        nm.conv2d_int8(big, np.zeros((1, 16000, 3, 3), np.int8), np.zeros(1, np.int32), 1, 1, False)


def test_avg_pool_rounding_and_odd_size():
    x = np.array([[[[1, 1, -1, -1, 9], [0, 0, 0, 0, 9], [127, 127, -128, -128, 9]]]], np.int8)
    # sums 2 -> 0.5 -> 1, -2 -> -0.5 -> 0; odd last row and column dropped
    assert nm.avg_pool2x2(x).tolist() == [[[[1, 0]]]]
    rng = rng_for(6)
    x = rng.integers(-128, 128, (2, 3, 6, 8), dtype=np.int8)
    expected = np.zeros((2, 3, 3, 4), dtype=np.int64)
    for n, c, r, s in np.ndindex(expected.shape):
        total = sum(int(x[n, c, 2 * r + a, 2 * s + b]) for a in (0, 1) for b in (0, 1))
        expected[n, c, r, s] = sat(half_up(total, 4))
    assert np.array_equal(nm.avg_pool2x2(x), expected)


def test_upsample_nearest2x():
    x = rng_for(7).integers(-128, 128, (1, 2, 3, 2), dtype=np.int8)
    got = nm.upsample_nearest2x(x)
    assert got.shape == (1, 2, 6, 4)
    assert all(got[0, c, r, s] == x[0, c, r // 2, s // 2] for c, r, s in np.ndindex(2, 6, 4))


# --- residual add, channel affine -----------------------------------------------------------------


def test_residual_matches_reference_and_float():
    rng = rng_for(8)
    acc_scale = rng.uniform(1e-4, 1e-3, 4)
    residual_scale, out_scale = 0.05, 0.04
    mult_acc, mult_res, shift = nm.residual_params(acc_scale, residual_scale, out_scale)
    acc = rng.integers(-6000, 6000, (2, 4, 3, 3)).astype(np.int32)
    residual = rng.integers(-128, 128, (2, 4, 3, 3), dtype=np.int8)
    got = nm.requantize_residual(acc, residual, mult_acc, mult_res, shift)
    for n, c, h, w in np.ndindex(acc.shape):
        total = int(acc[n, c, h, w]) * int(mult_acc[c]) + int(residual[n, c, h, w]) * int(
            mult_res[c]
        )
        assert got[n, c, h, w] == sat(half_up(total, 1 << int(shift[c])))
    exact = (acc * acc_scale[None, :, None, None] + residual * residual_scale) / out_scale
    inside = np.abs(exact) < 127
    # one rounding (0.5) plus both multipliers' relative error on terms of at most ~800 LSB
    assert np.abs(got - exact)[inside].max() <= 0.5 + 1e-4


def test_residual_params_refuse_lost_precision():
    with pytest.raises(ValueError, match="2\\^18"):
        nm.residual_params(np.array([1e-9]), 1.0, 1.0)


def test_channel_affine_matches_reference_and_float():
    rng = rng_for(9)
    gamma = np.array([1.3, -0.7, 0.0, 2.5e-3, 40.0])
    beta = np.array([0.1, -2.0, 0.33, 0.0, -1.0])
    in_scale, out_scale = 0.02, 0.03
    mult, shift, bias_q = nm.channel_affine_params(in_scale, gamma, beta, out_scale)
    x = rng.integers(-128, 128, (2, 5, 4, 4), dtype=np.int8)
    x[0, :, 0, 0] = -128
    for relu in (False, True):
        got = nm.channel_affine(x, mult, shift, bias_q, relu)
        for n, c, h, w in np.ndindex(x.shape):
            value = half_up(int(x[n, c, h, w]) * int(mult[c]) + int(bias_q[c]), 1 << int(shift[c]))
            assert got[n, c, h, w] == sat(max(value, 0) if relu else value)
    exact = (x * in_scale * gamma[None, :, None, None] + beta[None, :, None, None]) / out_scale
    inside = np.abs(exact) < 127
    error = np.abs(nm.channel_affine(x, mult, shift, bias_q, False) - exact)[inside]
    assert error.max() <= 0.5 + 1e-6


# --- tables, occlusion ----------------------------------------------------------------------------


def sigmoid(values):
    return 1 / (1 + np.exp(-values))


def test_build_and_apply_table():
    in_scale = 0.06
    table = tb.build_table(sigmoid, in_scale, 1 / 256, np.uint8)
    assert table.dtype == np.uint8 and table.shape == (256,)
    for code in range(-128, 128):
        assert table[code + 128] == min(255, half_up(Fraction(sigmoid(code * in_scale) * 256)))
    x = rng_for(10).integers(-128, 128, (2, 1, 3, 4), dtype=np.int8)
    got = nm.apply_table(x, table)
    assert all(got[i] == table[int(x[i]) + 128] for i in np.ndindex(x.shape))
    image_table = tb.build_table(sigmoid, in_scale, 1 / 255, np.uint8)
    assert image_table[0] == 0 and image_table[-1] == 255


def test_mul_by_map():
    rng = rng_for(11)
    x = rng.integers(-128, 128, (2, 3, 4, 5), dtype=np.int8)
    occlusion = rng.integers(0, 256, (2, 1, 4, 5), dtype=np.uint8)
    got = nm.mul_by_map(x, occlusion)
    for n, c, h, w in np.ndindex(x.shape):
        assert got[n, c, h, w] == sat(half_up(int(x[n, c, h, w]) * int(occlusion[n, 0, h, w]), 256))
    codes = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 1, 256)
    full = nm.mul_by_map(codes, np.full((1, 1, 1, 256), 255, np.uint8))
    assert np.array_equal(full[..., 1:], codes[..., 1:]) and full[0, 0, 0, 0] == -127  # -127.5


def reference_resize_taps(in_size, out_size):
    taps = []
    for d in range(out_size):
        src = max(Fraction((2 * d + 1) * in_size - out_size, 2 * out_size), 0)
        src_q8 = half_up(src * 256)
        first = src_q8 // 256
        taps.append((first, min(first + 1, in_size - 1), src_q8 - 256 * first))
    return taps


@pytest.mark.parametrize("in_hw,out_hw", [((4, 6), (8, 12)), ((7, 5), (3, 4)), ((5, 5), (5, 5))])
def test_resize_map_matches_reference_and_torch(in_hw, out_hw):
    occlusion = rng_for(12).integers(0, 256, (2, 1) + in_hw, dtype=np.uint8)
    got = nm.resize_map_bilinear(occlusion, *out_hw)
    rows, cols = (
        reference_resize_taps(in_hw[0], out_hw[0]),
        reference_resize_taps(in_hw[1], out_hw[1]),
    )
    for n, r, s in np.ndindex(2, *out_hw):
        (r0, r1, fy), (c0, c1, fx) = rows[r], cols[s]
        m = occlusion[n, 0].astype(int)
        total = (256 - fy) * ((256 - fx) * m[r0, c0] + fx * m[r0, c1]) + fy * (
            (256 - fx) * m[r1, c0] + fx * m[r1, c1]
        )
        assert got[n, 0, r, s] == half_up(total, 1 << 16)
    if in_hw == out_hw:
        assert np.array_equal(got, occlusion)
    expected = F.interpolate(
        torch.tensor(occlusion, dtype=torch.float64),
        size=out_hw,
        mode="bilinear",
        align_corners=False,
    ).numpy()
    # Q8 source position (<= 1/512 pixel off) on steps of up to 255: <= 1 LSB, plus 0.5 rounding
    assert np.abs(got - expected).max() <= 1.5


# --- softmax --------------------------------------------------------------------------------------


def test_softmax_matches_reference():
    rng = rng_for(13)
    table = tb.softmax_exp_table(0.04)
    logits = rng.integers(-128, 128, (2, 11, 3, 3), dtype=np.int8)
    logits[0, :, 0, 0] = [127] + [-128] * 10  # d = 255, the far end of the table
    got = nm.softmax_masks(logits, table)
    assert got.dtype == np.uint16
    for n, h, w in np.ndindex(2, 3, 3):
        column = [int(v) for v in logits[n, :, h, w]]
        exps = [int(table[max(column) - v]) for v in column]
        reciprocal = (1 << 39) // sum(exps)
        assert [int(v) for v in got[n, :, h, w]] == [half_up(e * reciprocal, 1 << 24) for e in exps]


@pytest.mark.parametrize("channels", [2, 3, 11, 16])
def test_softmax_all_equal_inputs(channels):
    table = tb.softmax_exp_table(0.1)
    for value in (-128, 0, 127):
        got = nm.softmax_masks(np.full((1, channels, 2, 2), value, np.int8), table)
        assert np.all(got == got[0, 0, 0, 0])
        assert abs(int(got[0, :, 0, 0].sum()) - 32768) <= channels / 2


def test_softmax_precision_against_torch():
    """Absolute error <= 2e-4 (table entries 0.5 LSB each, reciprocal, final rounding)."""
    rng = rng_for(14)
    for scale in (0.02, 0.08, 0.3):
        logits = rng.integers(-128, 128, (2, 11, 8, 8), dtype=np.int8)
        got = nm.softmax_masks(logits, tb.softmax_exp_table(scale)) / 32768
        expected = torch.softmax(torch.tensor(logits * scale), dim=1).numpy()
        assert np.abs(got - expected).max() <= 2e-4


# --- keypoints, heatmaps, motion ------------------------------------------------------------------


def test_kp_to_fixed_rounding_and_saturation():
    tie = 2.0**-14  # * 2^13 = 0.5 exactly
    kp = np.array([[[tie, -tie], [1.0, -1.0], [5.0, -4.0], [-5.0, 0.333]]], dtype=np.float16)
    got = nm.kp_to_fixed(kp)
    assert got.dtype == np.int16
    assert got.tolist() == [
        [
            [1, 0],
            [8192, -8192],
            [32767, -32768],
            [-32768, half_up(Fraction(float(kp[0, 3, 1])) * 8192)],
        ]
    ]
    with pytest.raises(ValueError):
        nm.kp_to_fixed(np.array([[[np.nan, 0]]], dtype=np.float16))


def test_kp_to_fixed_equals_integer_fp16_decoding():
    """Every finite FP16 pattern: the bit-level integer conversion of docs/numerics.md section 9."""
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    values = bits.view(np.float16)
    finite = np.isfinite(values)
    wide = bits.astype(np.int64)
    sign, exponent, fraction = wide >> 15, (wide >> 10) & 31, wide & 1023
    mantissa = np.where(exponent == 0, fraction, fraction + 1024)
    right = np.maximum(12 - np.maximum(exponent, 1), 0)  # value * 2^13 = mantissa * 2^(e - 12)
    left = np.maximum(exponent - 12, 0)
    signed = np.where(sign == 1, -mantissa, mantissa) << left
    expected = np.where(right > 0, (signed + ((1 << right) >> 1)) >> right, signed)
    got = nm.kp_to_fixed(values[finite].reshape(1, -1, 1))
    assert np.array_equal(got.ravel(), np.clip(expected[finite], -32768, 32767))


def test_coordinate_grid_matches_fomm():
    grid = tb.coordinate_grid(5, 7)
    assert grid.shape == (5, 7, 2) and grid.dtype == np.int16
    assert grid[0, 0].tolist() == [-8192, -8192] and grid[-1, -1].tolist() == [8192, 8192]
    for h, w in np.ndindex(5, 7):
        assert grid[h, w, 0] == half_up(Fraction(2 * w - 6, 6) * 8192)
        assert grid[h, w, 1] == half_up(Fraction(2 * h - 4, 4) * 8192)


def heat_reference(grid, kp, table, index_shift):
    heat = np.zeros((kp.shape[0], kp.shape[1]) + grid.shape[:2], dtype=np.int64)
    for n, k, h, w in np.ndindex(heat.shape):
        dx = sat(int(grid[h, w, 0]) - int(kp[n, k, 0]), -32767, 32767)
        dy = sat(int(grid[h, w, 1]) - int(kp[n, k, 1]), -32767, 32767)
        heat[n, k, h, w] = table[min(half_up(dx * dx + dy * dy, 1 << index_shift), 4095)]
    return heat


@pytest.mark.parametrize("kp_variance", [0.01, 0.5])  # index shift 12, and the largest, 18
def test_heatmaps_match_reference(kp_variance):
    rng = rng_for(15)
    grid = tb.coordinate_grid(6, 7)
    table, index_shift = tb.gaussian_exp_table(kp_variance)
    kp_driving = rng.integers(-9000, 9000, (2, 3, 2)).astype(np.int16)
    kp_source = rng.integers(-9000, 9000, (2, 3, 2)).astype(np.int16)
    kp_source[0, 0] = [-32768, 32767]  # far outside: offsets clamp, heat 0
    kp_driving[1, 2] = [32767, 32767]  # both offsets clamp at a corner: d2 = 2 · 32767^2
    mult, shift = nm.quantize_multiplier(2.0**-15 * 127)
    got = nm.keypoint_heatmaps(grid, kp_driving, kp_source, table, index_shift, mult, shift)
    assert got.shape == (2, 4, 6, 7) and np.all(got[:, 0] == 0)
    difference = heat_reference(grid, kp_driving, table, index_shift) - heat_reference(
        grid, kp_source, table, index_shift
    )
    for index in np.ndindex(difference.shape):
        n, k, h, w = index
        assert got[n, k + 1, h, w] == sat(
            half_up(int(difference[index]) * int(mult), 1 << int(shift))
        )


def test_heatmaps_precision_against_float():
    """Within 0.75 LSB of the float formula at scale 1/127 (kp from FP16, var 0.01, 32x32 grid)."""
    rng = rng_for(16)
    size, variance = 32, 0.01
    kp_driving = rng.uniform(-1, 1, (2, 10, 2)).astype(np.float16)
    kp_source = rng.uniform(-1, 1, (2, 10, 2)).astype(np.float16)
    table, index_shift = tb.gaussian_exp_table(variance)
    mult, shift = nm.quantize_multiplier(2.0**-15 * 127)
    got = nm.keypoint_heatmaps(
        tb.coordinate_grid(size, size),
        nm.kp_to_fixed(kp_driving),
        nm.kp_to_fixed(kp_source),
        table,
        index_shift,
        mult,
        shift,
    )
    axis = np.linspace(-1, 1, size)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1)

    def gaussian(kp):
        offset = grid[None, None] - kp.astype(np.float64)[:, :, None, None]
        return np.exp(-0.5 * (offset**2).sum(-1) / variance)

    expected = (gaussian(kp_driving) - gaussian(kp_source)) * 127
    assert np.abs(got[:, 1:] - expected).max() <= 0.75


def test_sparse_motion_and_deformation_match_reference():
    rng = rng_for(17)
    grid = tb.coordinate_grid(4, 5)
    kp_driving = rng.integers(-8192, 8193, (2, 3, 2)).astype(np.int16)
    kp_source = rng.integers(-8192, 8193, (2, 3, 2)).astype(np.int16)
    kp_source[1, 2], kp_driving[1, 2] = [32767, -32768], [-32768, 32767]  # saturates
    sparse = nm.sparse_motion(grid, kp_driving, kp_source)
    assert sparse.shape == (2, 4, 4, 5, 2) and sparse.dtype == np.int16
    for n, k, h, w, a in np.ndindex(sparse.shape):
        moved = int(grid[h, w, a]) + (
            0 if k == 0 else int(kp_source[n, k - 1, a]) - int(kp_driving[n, k - 1, a])
        )
        assert sparse[n, k, h, w, a] == sat(moved, -32768, 32767)
    masks = nm.softmax_masks(
        rng.integers(-128, 128, (2, 4, 4, 5), dtype=np.int8), tb.softmax_exp_table(0.05)
    )
    got = nm.deformation_field(sparse, masks)
    assert got.shape == (2, 4, 5, 2) and got.dtype == np.int16
    for n, h, w, a in np.ndindex(got.shape):
        total = sum(int(masks[n, k, h, w]) * int(sparse[n, k, h, w, a]) for k in range(4))
        assert got[n, h, w, a] == sat(half_up(total, 1 << 15), -32768, 32767)


# --- grid sample ----------------------------------------------------------------------------------


def reference_grid_sample(x, grid):
    n_, c_, h_, w_ = x.shape
    out = np.zeros((n_, c_) + grid.shape[1:3], dtype=np.int64)

    def pixel(g, size):  # ((g + 1) size - 1) / 2 in pixels, rounded half up to 1/2048
        p = half_up((Fraction(int(g), 8192) + 1) * size - 1, 2 * Fraction(1, 2048))
        return p // 2048, p % 2048

    for n, r, s in np.ndindex(n_, *grid.shape[1:3]):
        x0, fx = pixel(grid[n, r, s, 0], w_)
        y0, fy = pixel(grid[n, r, s, 1], h_)
        for c in range(c_):
            total = 0
            for yy, wy in ((y0, 2048 - fy), (y0 + 1, fy)):
                for xx, wx in ((x0, 2048 - fx), (x0 + 1, fx)):
                    if 0 <= yy < h_ and 0 <= xx < w_:
                        total += wy * wx * int(x[n, c, yy, xx])
            out[n, c, r, s] = sat(half_up(total, 1 << 22))
    return out


def test_grid_sample_matches_reference_including_borders_and_far_outside():
    rng = rng_for(18)
    x = rng.integers(-128, 128, (2, 3, 4, 5), dtype=np.int8)
    x[0, 0] = 127
    x[1, 0] = -128
    grid = rng.integers(-12000, 12000, (2, 3, 7, 2)).astype(np.int16)
    special = [
        [-8192, -8192],
        [8192, 8192],
        [-32768, 0],
        [32767, 32767],
        [0, -32768],
        [8191, -8191],
        [-8193, 8193],
    ]  # borders (+-1 -> -0.5 / W-0.5), far outside, ties
    grid[:, 0, :, :] = special
    got = nm.grid_sample_int8(x, grid)
    assert got.dtype == np.int8 and got.shape == (2, 3, 3, 7)
    assert np.array_equal(got, reference_grid_sample(x, grid))
    assert np.all(got[:, :, 0, 2:5] == 0)  # all four corners outside


def test_grid_sample_on_pixel_centres_is_identity():
    x = rng_for(19).integers(-128, 128, (1, 2, 4, 8), dtype=np.int8)
    # pixel centre i of a size-S axis: g = (2 i + 1) / S - 1, exact in Q13 for S in {4, 8}
    xs = ((2 * np.arange(8) + 1) * 8192) // 8 - 8192
    ys = ((2 * np.arange(4) + 1) * 8192) // 4 - 8192
    grid = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), axis=-1)[None].astype(np.int16)
    assert np.array_equal(nm.grid_sample_int8(x, grid), x)


def test_grid_sample_precision_against_torch():
    """|int - float| <= 0.63 LSB: 0.5 final rounding + 2 axes x 2^-12 pixel x 255 LSB steps."""
    rng = rng_for(20)
    x = rng.integers(-128, 128, (2, 4, 16, 12), dtype=np.int8)
    grid = rng.integers(-10000, 10000, (2, 9, 11, 2)).astype(np.int16)
    got = nm.grid_sample_int8(x, grid)
    expected = F.grid_sample(
        torch.tensor(x, dtype=torch.float64),
        torch.tensor(grid / 8192.0),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    ).numpy()
    assert np.abs(got - expected).max() <= 0.63


def _per_tap_conv(x, w, bias, stride, padding, upsample):
    """The previous conv2d_int8: one float64 tensordot per tap over gathered, masked inputs."""
    factor = 2 if upsample else 1
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    in_h, in_w = h * factor, wd * factor
    ho, wo = (in_h + 2 * padding - kh) // stride + 1, (in_w + 2 * padding - kw) // stride + 1
    rows0, cols0 = np.arange(ho) * stride - padding, np.arange(wo) * stride - padding
    acc = np.zeros((n, ho, wo, o))
    for ky, kx in np.ndindex(kh, kw):
        rows, cols = rows0 + ky, cols0 + kx
        inside = ((rows >= 0) & (rows < in_h))[:, None] & ((cols >= 0) & (cols < in_w))[None, :]
        patch = x[:, :, np.clip(rows, 0, in_h - 1)[:, None] // factor,
                  np.clip(cols, 0, in_w - 1)[None, :] // factor].astype(np.float64) * inside
        acc += np.tensordot(patch, w[:, :, ky, kx].astype(np.float64), ([1], [1]))
    return (acc.transpose(0, 3, 1, 2) + bias[None, :, None, None]).astype(np.int32)


def test_conv2d_gemm_equals_the_per_tap_conv_on_random_cases():
    rng = rng_for(11)
    for _ in range(200):
        kernel = int(rng.choice([1, 3, 5, 7]))
        stride, upsample = int(rng.integers(1, 3)), bool(rng.integers(0, 2))
        padding = int(rng.integers(0, kernel // 2 + 1))
        h, wd = (int(v) for v in rng.integers(max(1, kernel - 2 * padding), 12, 2))
        c, o = (int(v) for v in rng.integers(1, 24, 2))
        n = int(rng.integers(1, 3))
        x = rng.integers(-128, 128, (n, c, h, wd), dtype=np.int8)
        w = rng.integers(-127, 128, (o, c, kernel, kernel), dtype=np.int8)  # symmetric
        bias = rng.integers(-(1 << 24), 1 << 24, o).astype(np.int32)
        assert np.array_equal(nm.conv2d_int8(x, w, bias, stride, padding, upsample),
                              _per_tap_conv(x, w, bias, stride, padding, upsample))


@pytest.mark.parametrize("channels,kernel,stride", [(130, 3, 1), (130, 3, 2), (1100, 1, 1)])
def test_conv2d_gemm_exact_beyond_one_float32_slice(channels, kernel, stride):
    # More than 2^10 terms per output (several float32 sums; at 1100 channels, channel slices),
    # all products at the extreme (−128 · −127: weights are symmetric), and random.
    rng = rng_for(12)
    for fill in (True, False):
        shape, w_shape = (1, channels, 6, 5), (3, channels, kernel, kernel)
        x = np.full(shape, -128, np.int8) if fill else rng.integers(-128, 128, shape, np.int8)
        w = np.full(w_shape, -127, np.int8) if fill else rng.integers(-127, 128, w_shape, np.int8)
        bias = np.array([1000, -7, 0], np.int32)
        got = nm.conv2d_int8(x, w, bias, stride, kernel // 2, False)
        assert got.dtype == np.int32
        assert np.array_equal(got, _per_tap_conv(x, w, bias, stride, kernel // 2, False))


# --- fast paths against the direct references ------------------------------------------------------


#: (_IM2COL_MIN_OUT, _POLYPHASE_MIN_PIXELS) sending every stride-1 conv the sum allows to one path
CONV_PATHS = {"im2col": (1, 1 << 30), "per_tap": (1 << 30, 1 << 30), "polyphase": (1 << 30, 1)}


@pytest.mark.parametrize("path", CONV_PATHS)
@pytest.mark.parametrize("band_elements", [1, 1 << 30])  # one output row per band / one band
def test_conv2d_paths_and_bands_equal_the_per_tap_conv(monkeypatch, path, band_elements):
    monkeypatch.setattr(nm, "_IM2COL_MIN_OUT", CONV_PATHS[path][0])
    monkeypatch.setattr(nm, "_POLYPHASE_MIN_PIXELS", CONV_PATHS[path][1])
    monkeypatch.setattr(nm, "_TAP_BAND_ELEMENTS", band_elements)
    monkeypatch.setattr(nm, "_PATCH_ELEMENTS", band_elements)
    rng = rng_for(13)
    for case in range(60):
        kernel = int(rng.choice([1, 3, 5, 7]))
        stride, upsample = int(rng.integers(1, 3)), bool(rng.integers(0, 2))
        padding = int(rng.integers(0, kernel // 2 + 1))
        h, wd = (int(v) for v in rng.integers(max(1, kernel - 2 * padding), 10, 2))
        c = int(rng.choice([1, 3, 16, 40, 130]))  # 130 · 9 > 2^10 terms: several float32 sums
        o, n = int(rng.choice([1, 3, 16, 33])), int(rng.integers(1, 3))
        x = rng.integers(-128, 128, (n, c, h, wd), dtype=np.int8)
        w = rng.integers(-127, 128, (o, c, kernel, kernel), dtype=np.int8)
        if case % 4 == 0:  # every product at the extreme −128 · −127
            x[:], w[:] = -128, -127
        bias = rng.integers(-(1 << 24), 1 << 24, o).astype(np.int32)
        assert np.array_equal(nm.conv2d_int8(x, w, bias, stride, padding, upsample),
                              _per_tap_conv(x, w, bias, stride, padding, upsample)), case


def test_conv2d_one_exact_float32_gemm_at_its_largest_sum():
    # 113 · 9 = 1017 extreme products in one float32 GEMM: |sum| = 1017 · 16256 < 2^24.
    x = np.full((1, 113, 4, 5), -128, np.int8)
    w = np.full((16, 113, 3, 3), -127, np.int8)
    w[1] = 127
    bias = np.zeros(16, np.int32)
    got = nm.conv2d_int8(x, w, bias, 1, 1, False)
    assert got[0, 0, 1, 1] == 1017 * 16256 and got[0, 1, 1, 1] == -1017 * 16256
    assert np.array_equal(got, _per_tap_conv(x, w, bias, 1, 1, False))


def test_requantize_family_matches_reference_at_the_extremes():
    rng = rng_for(14)
    shape = (2, 6, 40)
    acc = rng.integers(-(1 << 31), 1 << 31, shape, dtype=np.int64).astype(np.int32)
    acc[0, :, :4] = [nm.INT32_MIN, nm.INT32_MAX, 1 << 30, -(1 << 30)]
    mult = np.array([nm.INT32_MAX, -nm.INT32_MAX, 1 << 30, -(1 << 30), 1 << 30, 12345678 << 7],
                    np.int32)
    shift = np.array([62, 1, 31, 40, 30, 45], np.int32)
    residual = rng.integers(-128, 128, shape, dtype=np.int8)
    residual[1, :, :2] = [-128, 127]
    bias_q = np.array([(1 << 61) - 1, -(1 << 61) + 1, 0, 1 << 40, -7, 3], np.int64)
    x = residual
    for relu in (False, True):
        got = nm.requantize(acc, mult, shift, relu)
        affine = nm.channel_affine(x, mult, shift, bias_q, relu)
        for n, c, i in np.ndindex(shape):
            value = half_up(int(acc[n, c, i]) * int(mult[c]), 1 << int(shift[c]))
            assert got[n, c, i] == sat(max(value, 0) if relu else value)
            value = half_up(int(x[n, c, i]) * int(mult[c]) + int(bias_q[c]), 1 << int(shift[c]))
            assert affine[n, c, i] == sat(max(value, 0) if relu else value)
    mult_res = np.array([nm.INT32_MAX, 1 << 12, -(1 << 30), 777 << 20, 5 << 20, 1 << 12],
                        np.int32)
    got = nm.requantize_residual(acc, residual, mult, mult_res, shift)
    for n, c, i in np.ndindex(shape):
        total = int(acc[n, c, i]) * int(mult[c]) + int(residual[n, c, i]) * int(mult_res[c])
        assert got[n, c, i] == sat(half_up(total, 1 << int(shift[c])))


def test_grid_sample_matches_reference_on_random_cases():
    rng = rng_for(21)
    for case in range(12):
        n, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        h, wd = (int(v) for v in rng.integers(1, 9, 2))
        x = rng.integers(-128, 128, (n, c, h, wd), dtype=np.int8)
        if case % 3 == 0:
            x[:] = -128 if case % 2 else 127
        reach = int(rng.choice([9000, 32768]))  # around the image / the whole int16 range
        grid = rng.integers(-reach, min(reach, 32768), (n, 3, 5, 2)).astype(np.int16)
        assert np.array_equal(nm.grid_sample_int8(x, grid), reference_grid_sample(x, grid)), case
