"""Integer arithmetic of the co-processor engines: the bit-exact specification.

Every function that takes integer tensors is an engine operation: integers in, integers out, no
floating point touches a value. C-sim and the board must reproduce these results bit for bit.
docs/numerics.md states the same formulas with the bit width of every intermediate and the
argument that none overflows; the Python evaluates in int64 (or float32 / float64 where that is
provably exact) only because numpy has no narrower accumulators worth using.

Functions that take float scales (quantize_multiplier, residual_params, channel_affine_params,
kp_to_fixed) derive integer parameters once, at compile time or once per frame on the host; the
engines receive only their integer results. Lookup tables are built in tables.py.
"""

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

#: A requantization multiplier m is an int32 with 2^30 <= |m| < 2^31 (Q31 mantissa in [0.5, 1)).
MULTIPLIER_BITS = 31
#: Right shifts of a multiplier product; 6 bits in hardware.
MIN_SHIFT, MAX_SHIFT = 1, 62
#: residual_params refuses a multiplier smaller than this (relative precision worse than 2^-13).
MIN_RESIDUAL_MULTIPLIER = 1 << 12
#: Occlusion map: uint8, value / 2^8.
MAP_FRAC_BITS = 8
#: Softmax masks and Gaussian heat values: uint16, value / 2^15 (so 1.0 is 32768).
UNIT_FRAC_BITS = 15
#: Softmax reciprocal: floor(2^39 / sum of exp entries).
SOFTMAX_RECIPROCAL_BITS = 39
#: Normalised coordinates: int16 Q2.13, value / 2^13, range [-4, 4).
COORD_FRAC_BITS = 13
#: Fraction bits of a pixel coordinate in grid_sample, hence of each 1-D bilinear weight.
GRID_WEIGHT_BITS = 11


def sat_int8(values: np.ndarray) -> np.ndarray:
    """Saturate integers to [-128, 127] and return them as int8."""
    return np.clip(values, INT8_MIN, INT8_MAX).astype(np.int8)


def sat_int16(values: np.ndarray) -> np.ndarray:
    """Saturate integers to [-32768, 32767] and return them as int16."""
    return np.clip(values, INT16_MIN, INT16_MAX).astype(np.int16)


def round_shift(values: np.ndarray, shift) -> np.ndarray:
    """Arithmetic right shift by `shift` (>= 1) rounding half up: (v + 2^(shift-1)) >> shift.

    The one rounding of the whole co-processor. Ties go towards +infinity (-2.5 -> -2, 2.5 -> 3).
    `shift` broadcasts against `values`; the result is int64. The caller guarantees that
    v + 2^(shift-1) fits its hardware width (the bounds are in docs/numerics.md).
    """
    values = np.asarray(values)
    if values.dtype.kind not in "iu":
        raise TypeError(f"round_shift needs integers, got {values.dtype}")
    shift = _checked_shift(shift)
    total = np.add(values, np.int64(1) << (shift - 1), dtype=np.int64)
    total >>= shift
    return total


def _checked_shift(shift) -> np.ndarray:
    shift = np.asarray(shift, dtype=np.int64)
    if np.any(shift < MIN_SHIFT) or np.any(shift > MAX_SHIFT):
        raise ValueError(f"round_shift: shift must be in [{MIN_SHIFT}, {MAX_SHIFT}]")
    return shift


def _round_shift_sat8(total: np.ndarray, shift, relu: bool) -> np.ndarray:
    """sat8([ReLU] round_shift(total, shift)) of a fresh integer array, which it overwrites
    (the caller guarantees total + 2^(shift-1) fits its dtype).

    In place, one pass per step: the multiplier products of a conv layer are the largest
    temporaries of the golden model. ReLU then SAT8 is one clamp to [0, 127].
    """
    shift = _checked_shift(shift)
    total += np.int64(1) << (shift - 1)
    total >>= shift
    out = np.empty(total.shape, dtype=np.int8)
    return np.clip(total, 0 if relu else INT8_MIN, INT8_MAX, out=out, casting="unsafe")


def _round_half_up(values: np.ndarray) -> np.ndarray:
    """floor(v + 0.5) as int64, for compile-time derivations from float."""
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5).astype(np.int64)


def _require(array, dtype, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != dtype:
        raise TypeError(f"{name} must be {np.dtype(dtype).name}, got {array.dtype}")
    return array


def _require_int32_range(acc, op: str) -> np.ndarray:
    acc = np.asarray(acc)
    if acc.dtype.kind != "i":
        raise TypeError(f"{op}: accumulator must be integers, got {acc.dtype}")
    wide = acc.dtype.itemsize > 4  # int8..int32 are in range by their type
    if wide and acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise ValueError(f"{op}: accumulator outside int32")
    return acc


def _per_channel(param, ndim: int) -> np.ndarray:
    """View a scalar or [C] parameter so that it broadcasts along axis 1 of an ndim tensor."""
    param = np.asarray(param, dtype=np.int64)
    if param.ndim == 0:
        return param
    return param.reshape((1, -1) + (1,) * (ndim - 2))


# --- requantization ------------------------------------------------------------------------------


def quantize_multiplier(real) -> tuple[np.ndarray, np.ndarray]:
    """Split real scale(s) into (mult int32, shift int32) with real ~= mult * 2^-shift.

    2^30 <= |mult| <= 2^31 - 1 (sign of real kept), MIN_SHIFT <= shift <= MAX_SHIFT, so
    2^-32 <= |real| < 2^30 is accepted; zero, non-finite or out-of-range reals raise ValueError.
    """
    real = np.asarray(real, dtype=np.float64)
    if not np.all(np.isfinite(real)):
        raise ValueError("quantize_multiplier: scale is not finite")
    if np.any(real == 0):
        raise ValueError("quantize_multiplier: scale is 0; a zero scale has no multiplier")
    mantissa, exponent = np.frexp(
        np.abs(real)
    )  # |real| = mantissa * 2^exponent, mantissa in [0.5, 1)
    mult = _round_half_up(mantissa * 2.0**MULTIPLIER_BITS)
    carried = mult == 1 << MULTIPLIER_BITS  # mantissa rounded up to 1.0: renormalise
    mult = np.where(carried, 1 << (MULTIPLIER_BITS - 1), mult)
    shift = MULTIPLIER_BITS - (exponent + carried)
    if np.any(shift < MIN_SHIFT) or np.any(shift > MAX_SHIFT):
        bad = np.abs(real)[(shift < MIN_SHIFT) | (shift > MAX_SHIFT)].flat[0]
        raise ValueError(
            f"quantize_multiplier: scale {bad:.3g} outside [2^-32, 2^30); check the calibration"
        )
    return (np.sign(real).astype(np.int64) * mult).astype(np.int32), shift.astype(np.int32)


def requantize(acc, mult, shift, relu: bool) -> np.ndarray:
    """int32 accumulator -> int8: sat8(relu(round_shift(acc * mult, shift))), per channel on axis 1.

    mult, shift: scalars (per tensor) or [C] arrays from quantize_multiplier.
    """
    acc = _require_int32_range(acc, "requantize")
    product = np.multiply(acc, _per_channel(mult, acc.ndim), dtype=np.int64)
    return _round_shift_sat8(product, _per_channel(shift, acc.ndim), relu)


def residual_params(acc_scale, residual_scale: float, out_scale: float):
    """Derive (mult_acc [O], mult_res [O], shift [O]) for requantize_residual.

    Both terms share one shift per channel, chosen so the larger multiplier is a normalised Q31
    mantissa; the smaller one must stay >= MIN_RESIDUAL_MULTIPLIER (else ValueError).
    """
    real_acc = np.asarray(acc_scale, dtype=np.float64) / out_scale
    real_res = np.broadcast_to(np.float64(residual_scale) / out_scale, real_acc.shape)
    _, shift = quantize_multiplier(np.maximum(real_acc, real_res))
    mult_acc = _round_half_up(np.ldexp(real_acc, shift))
    mult_res = _round_half_up(np.ldexp(real_res, shift))
    if np.any(np.minimum(mult_acc, mult_res) < MIN_RESIDUAL_MULTIPLIER):
        raise ValueError(
            "residual_params: accumulator and residual scales differ by more than 2^18 "
            "relative to the output scale; recalibrate the residual block"
        )
    return mult_acc.astype(np.int32), mult_res.astype(np.int32), shift


def requantize_residual(acc, residual, mult_acc, mult_res, shift) -> np.ndarray:
    """Residual add fused into a conv: sat8(round_shift(acc*mult_acc + residual*mult_res, shift)).

    acc: int32 [N,O,H,W] conv accumulator; residual: int8 [N,O,H,W] at its own scale.
    """
    residual = _require(residual, np.int8, "residual")
    acc = _require_int32_range(acc, "requantize_residual")
    total = np.multiply(acc, _per_channel(mult_acc, acc.ndim), dtype=np.int64)
    total += residual * _per_channel(mult_res, acc.ndim)
    return _round_shift_sat8(total, _per_channel(shift, acc.ndim), relu=False)


def channel_affine_params(in_scale: float, gamma, beta, out_scale: float):
    """Derive (mult int32 [C], shift int32 [C], bias_q int64 [C]) for channel_affine.

    Float model: y = gamma * x + beta per channel. gamma may be negative; a channel with
    gamma == 0 gets mult 0, shift 31 and carries only its bias.
    """
    real = in_scale * np.asarray(gamma, dtype=np.float64) / out_scale
    mult = np.zeros(real.shape, dtype=np.int32)
    shift = np.full(real.shape, MULTIPLIER_BITS, dtype=np.int32)
    nonzero = real != 0
    mult[nonzero], shift[nonzero] = quantize_multiplier(real[nonzero])
    bias_q = _round_half_up(np.ldexp(np.asarray(beta, dtype=np.float64) / out_scale, shift))
    if np.any(np.abs(bias_q) >= 1 << 61):
        raise ValueError("channel_affine_params: bias too large for the int64 bias register")
    return mult, shift, bias_q


def channel_affine(x, mult, shift, bias_q, relu: bool) -> np.ndarray:
    """Per-channel scale and bias of an int8 tensor (a BN that cannot fold).

    y = sat8(relu(round_shift(x * mult[c] + bias_q[c], shift[c]))).
    """
    x = _require(x, np.int8, "x")
    total = np.multiply(x, _per_channel(mult, x.ndim), dtype=np.int64)
    total += _per_channel(bias_q, x.ndim)
    return _round_shift_sat8(total, _per_channel(shift, x.ndim), relu)


# --- convolution engine --------------------------------------------------------------------------


#: Products per float32 partial sum of the conv GEMM: every |x·w| <= 2^14, so any partial sum of
#: at most 2^10 of them is an integer of magnitude <= 2^24, exact in float32 whatever order BLAS
#: adds in (and with or without FMA).
_EXACT_F32_TERMS = 1 << 10
#: im2col rows per GEMM (bounds the float32 patch matrix to ~32 MB).
_PATCH_ELEMENTS = 1 << 23
#: Input and output floats per row band of a per-tap conv (1 MB, a core's L2 cache: the band
#: stays in cache across the taps; smaller bands make the GEMMs too narrow). Measured.
_TAP_BAND_ELEMENTS = 1 << 18
#: Input pixels from which a conv on the x2 upsample is cheaper as four convs of the input
#: (_conv_upsampled; below, merging the kernel taps costs more than the products it saves).
#: Measured.
_POLYPHASE_MIN_PIXELS = 1024
#: Output channels from which im2col (one patch copy, one GEMM) beats a GEMM per tap.
_IM2COL_MIN_OUT = 16


def conv2d_int8(x, weight, bias, stride: int, padding: int, upsample_input: bool) -> np.ndarray:
    """int8 NCHW x int8 OIHW + int32 bias [O] -> int32 accumulator [N,O,Ho,Wo].

    Zero padding of `padding` pixels on each side. With upsample_input, the input is read as its
    nearest x2 upsample (pixel (r, c) of the upsampled image is x[r // 2, c // 2]); the padding
    and stride apply to the upsampled size.

    Computed as integer GEMMs in float32 BLAS over at most _EXACT_F32_TERMS taps·channels each
    (every one exact), summed in int32 (the bound check below keeps every sum inside int32):
    over im2col patches (_conv_im2col) or, at stride 1, one GEMM per tap on the padded input
    itself (_conv_shifted), for a large upsampled input one per parity of the output
    (_conv_upsampled). docs/numerics.md §4 gives the bounds.
    """
    x = _require(x, np.int8, "x")
    weight = _require(weight, np.int8, "weight")
    bias = _require(bias, np.int32, "bias")
    batch, channels, height, width = x.shape
    out_channels, weight_channels, kernel_h, kernel_w = weight.shape
    if weight_channels != channels or bias.shape != (out_channels,):
        raise ValueError(f"conv2d_int8: x {x.shape}, weight {weight.shape}, bias {bias.shape}")
    # Symmetric weights: the conv engine packs two weights into one DSP48E1 operand, which a
    # −128 weight could overflow (kernels/dsp_pack.h).
    if weight.size and weight.min() < -127:
        raise ValueError("conv2d_int8: weight -128; weights are in [-127, 127] (symmetric)")
    # Worst case |acc|: every product is at most 128 * 128.
    worst = channels * kernel_h * kernel_w * (1 << 14) + int(np.abs(bias.astype(np.int64)).max())
    if worst > INT32_MAX:
        raise ValueError(f"conv2d_int8: accumulator bound {worst} exceeds int32")
    factor = 2 if upsample_input else 1
    in_h, in_w = height * factor, width * factor
    out_h = (in_h + 2 * padding - kernel_h) // stride + 1
    out_w = (in_w + 2 * padding - kernel_w) // stride + 1
    if stride < 1 or padding < 0 or out_h < 1 or out_w < 1:
        raise ValueError(f"conv2d_int8: stride {stride}, padding {padding} on {in_h}x{in_w}")
    terms = channels * kernel_h * kernel_w
    # One GEMM over im2col patches when the whole sum is one exact float32 GEMM and enough
    # output channels share the patch copy; else (few outputs: the copy would dominate; long
    # sums: several GEMMs anyway) one GEMM per tap on the (polyphase) input itself. Measured.
    patches = stride > 1 or (terms <= _EXACT_F32_TERMS and out_channels >= _IM2COL_MIN_OUT)
    if patches:
        padded = _padded_float32(x, padding, upsample_input, channels_last=True)
        return _conv_im2col(padded, weight, stride, out_h, out_w) + bias[None, :, None, None]
    if upsample_input and height * width >= _POLYPHASE_MIN_PIXELS:
        return _conv_upsampled(x, weight, padding, out_h, out_w) + bias[None, :, None, None]
    padded = _padded_float32(x, padding, upsample_input, channels_last=False)
    taps = np.ascontiguousarray(weight.transpose(2, 3, 0, 1), dtype=np.float32)
    units = np.ones((kernel_h, kernel_w), dtype=np.int64)
    return np.stack([_conv_shifted(image, taps, units, (0, 0), out_h, out_w) for image in padded]
                    ) + bias[None, :, None, None]


def _phase_taps(parity: int, kernel: int, padding: int) -> tuple[int, list[list[int]]]:
    """Along one axis of a conv on the nearest x2 upsample: output index 2i + parity reads, at
    tap t, input index i + ((parity + t - padding) >> 1). Returns the first offset and the taps
    grouped by offset (consecutive offsets, each group non-empty)."""
    offsets = [(parity + t - padding) >> 1 for t in range(kernel)]
    return offsets[0], [[t for t in range(kernel) if offsets[t] == d]
                        for d in range(offsets[0], offsets[-1] + 1)]


def _conv_upsampled(x: np.ndarray, weight: np.ndarray, padding: int, out_h: int,
                    out_w: int) -> np.ndarray:
    """Stride-1 conv of the nearest x2 upsample of x -> int32 [N, O, out_h, out_w], without it.

    Polyphase: the outputs of one (row, column) parity read each input pixel through the sum of
    the kernel taps that land on it, so each parity is a conv of x itself with a kernel of
    about half the size (3x3 -> 2x2: 4/9 of the products). The sum is the same integer; a
    merged tap counts as the taps it merges in the float32 exactness bound (_conv_shifted).
    """
    batch, channels, height, width = x.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    phases = {}
    for axis, (kernel, size, out_size) in enumerate(((kernel_h, height, out_h),
                                                     (kernel_w, width, out_w))):
        for parity in (0, 1):
            first, groups = _phase_taps(parity, kernel, padding)
            count = (out_size - parity + 1) // 2  # output indices of this parity
            phases[axis, parity] = first, groups, count
    low = [max(0, -min(phases[axis, p][0] for p in (0, 1))) for axis in (0, 1)]
    high = [max(0, max(count - 1 + first + len(groups) - 1 for first, groups, count in
                       (phases[axis, p] for p in (0, 1))) - (size - 1))
            for axis, size in ((0, height), (1, width))]
    padded = np.zeros((batch, channels, low[0] + height + high[0], low[1] + width + high[1]),
                      dtype=np.float32)
    padded[:, :, low[0]:low[0] + height, low[1]:low[1] + width] = x
    wide = weight.transpose(2, 3, 0, 1).astype(np.int32)  # [kh, kw, O, C]
    out = np.empty((batch, out_channels, out_h, out_w), dtype=np.int32)
    for row_parity in (0, 1):
        first_row, row_groups, rows = phases[0, row_parity]
        for col_parity in (0, 1):
            first_col, col_groups, cols = phases[1, col_parity]
            if rows == 0 or cols == 0:
                continue
            # [kh', kw', O, C], each the sum of its group's (at most 2 x 2) taps: |merged| <=
            # 4 · 127, exact in float32.
            by_row = np.stack([sum(wide[t] for t in g) for g in row_groups])
            taps = np.stack([sum(by_row[:, t] for t in g) for g in col_groups],
                            axis=1).astype(np.float32)
            units = np.array([[len(gy) * len(gx) for gx in col_groups] for gy in row_groups])
            origin = (low[0] + first_row, low[1] + first_col)
            for image in range(batch):
                out[image, :, row_parity::2, col_parity::2] = _conv_shifted(
                    padded[image], taps, units, origin, rows, cols)
    return out


def _padded_float32(x: np.ndarray, padding: int, upsample: bool, channels_last: bool):
    """The input as the engine reads it, zero-padded, in float32: [N, C, Hp, Wp] axes, stored
    NHWC when channels_last (then .transpose(0, 2, 3, 1) is contiguous), else NCHW."""
    batch, channels, height, width = x.shape
    factor = 2 if upsample else 1
    in_h, in_w = height * factor, width * factor
    shape = (batch, channels, in_h + 2 * padding, in_w + 2 * padding)
    if channels_last:
        padded = np.zeros((shape[0], shape[2], shape[3], shape[1]), np.float32).transpose(0, 3, 1, 2)
    else:
        padded = np.zeros(shape, np.float32)
    inner = padded[:, :, padding:padding + in_h, padding:padding + in_w]
    if upsample:  # nearest x2 written straight into the padded buffer
        inner.reshape(batch, channels, height, 2, width, 2)[...] = x[:, :, :, None, :, None]
    else:
        inner[...] = x
    return padded


def _conv_im2col(padded: np.ndarray, weight: np.ndarray, stride: int, out_h: int,
                 out_w: int) -> np.ndarray:
    """Conv of a padded float32 input (NHWC storage) over im2col patches -> int32 [N,O,Ho,Wo].

    Patch row (r, c) is the window (ky, kx, channel) of output pixel (r, c); with NHWC storage
    each window row (kx, channel) is one contiguous run to copy. The GEMM weights @ patches.T
    has both operands contiguous along the sum (what BLAS is fastest at) and gives [O, Ho·Wo],
    the output layout.
    """
    batch = padded.shape[0]
    out_channels, channels, kernel_h, kernel_w = weight.shape
    terms = channels * kernel_h * kernel_w
    # [O, kh·kw·C] in the patch order
    weights = weight.transpose(0, 2, 3, 1).reshape(out_channels, terms).astype(np.float32)
    nhwc = padded.transpose(0, 2, 3, 1)
    _, row_stride, col_stride, channel_stride = nhwc.strides
    acc = np.empty((batch, out_channels, out_h * out_w), dtype=np.int32)
    band = max(1, min(out_h, _PATCH_ELEMENTS // (out_w * terms)))
    patch_buffer = np.empty(band * out_w * terms, dtype=np.float32)
    gemm_buffer = np.empty(out_channels * band * out_w, dtype=np.float32)
    for image in range(batch):
        for row in range(0, out_h, band):
            rows = min(band, out_h - row)
            windows = np.lib.stride_tricks.as_strided(
                nhwc[image, row * stride:], (rows, out_w, kernel_h, kernel_w * channels),
                (row_stride * stride, col_stride * stride, row_stride, channel_stride),
                writeable=False)
            # [rows·Wo, kh·kw·C]: the one copy of the input per output pixel and tap.
            patches = patch_buffer[:rows * out_w * terms].reshape(rows * out_w, terms)
            patches.reshape(windows.shape)[...] = windows
            gemm = gemm_buffer[:out_channels * rows * out_w].reshape(out_channels, rows * out_w)
            total = acc[image, :, row * out_w:(row + rows) * out_w]
            for first in range(0, terms, _EXACT_F32_TERMS):
                part = slice(first, first + _EXACT_F32_TERMS)
                np.matmul(weights[:, part], patches[:, part].T, out=gemm)
                if first:
                    total += gemm.astype(np.int32)
                else:  # integers of magnitude <= 2^24: exact
                    np.copyto(total, gemm, casting="unsafe")
    return acc.reshape(batch, out_channels, out_h, out_w)


def _conv_shifted(padded: np.ndarray, taps: np.ndarray, units: np.ndarray, origin: tuple,
                  out_h: int, out_w: int) -> np.ndarray:
    """Stride-1 conv of one zero-padded float32 image [C, Hp, Wp] -> int32 [O, out_h, out_w].

    taps: float32 [kh, kw, O, C]; output (r, c) reads the image at origin + (r + ky, c + kx).
    With the image flattened row by row, output pixel (r, c) at flat position r·Wp + c reads
    tap (ky, kx) at that position + ky·Wp + kx: each tap is one GEMM on a contiguous slice of
    the image (no patch copy); the Wp − out_w positions past each row's end are computed and
    dropped. units[ky, kx] is the number of int8 weights a tap sums (1, or more for a merged
    tap of _conv_upsampled), so its products are at most units · 2^14: taps are summed in
    float32 while at most _EXACT_F32_TERMS such units are, then in int32. Bands of output rows
    keep a band's input and sums in cache across its taps.
    """
    channels, _, padded_w = padded.shape
    kernel_h, kernel_w, out_channels, _ = taps.shape
    flat = padded.reshape(channels, -1)
    base = origin[0] * padded_w + origin[1]
    slice_c = min(channels, _EXACT_F32_TERMS // int(units.max()))
    groups, load = [[]], 0  # taps per exact float32 sum
    for ky, kx in [(ky, kx) for ky in range(kernel_h) for kx in range(kernel_w)]:
        cost = int(units[ky, kx]) * slice_c
        if load + cost > _EXACT_F32_TERMS:
            groups, load = groups + [[]], 0
        groups[-1].append((ky, kx))
        load += cost
    band = max(1, min(out_h, _TAP_BAND_ELEMENTS // ((channels + 2 * out_channels) * padded_w)))
    out = np.empty((out_channels, out_h, out_w), dtype=np.int32)
    # Reused GEMM outputs (fresh large arrays would cost a page fault per 4 KB on every tap),
    # each band's a contiguous view: matmul into a strided out goes through a copy.
    size = out_channels * band * padded_w
    buffers = (np.empty(size, np.float32), np.empty(size, np.float32), np.empty(size, np.int32))
    total = np.empty((out_channels, band * padded_w), dtype=np.int32)
    for row in range(0, out_h, band):
        rows = min(band, out_h - row)
        span = (rows - 1) * padded_w + out_w
        part, product, exact = (b[:out_channels * span].reshape(out_channels, span)
                                for b in buffers)
        total[:] = 0
        for c0 in range(0, channels, slice_c):
            for group in groups:
                for i, (ky, kx) in enumerate(group):
                    start = base + (row + ky) * padded_w + kx
                    np.matmul(taps[ky, kx, :, c0:c0 + slice_c],
                              flat[c0:c0 + slice_c, start:start + span],
                              out=product if i else part)
                    if i:
                        part += product
                np.copyto(exact, part, casting="unsafe")  # integers of magnitude <= 2^24: exact
                total[:, :span] += exact
        out[:, row:row + rows] = total[:, :rows * padded_w].reshape(
            out_channels, rows, padded_w)[:, :, :out_w]
    return out


def avg_pool2x2(x) -> np.ndarray:
    """2x2 average pool, stride 2: sat8(round_shift(sum of 4, 2)); odd last row/column dropped."""
    x = _require(x, np.int8, "x")
    height, width = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    wide = x[..., :height, :width].astype(np.int16)
    total = (
        wide[..., 0::2, 0::2]
        + wide[..., 0::2, 1::2]
        + wide[..., 1::2, 0::2]
        + wide[..., 1::2, 1::2]
    )
    return sat_int8(round_shift(total, 2))


def upsample_nearest2x(x) -> np.ndarray:
    """Nearest-neighbour x2 upsample of the last two axes (pure data movement)."""
    x = _require(x, np.int8, "x")
    return x.repeat(2, axis=-2).repeat(2, axis=-1)


# --- element-wise: tables, occlusion ------------------------------------------------------------


def apply_table(x, table) -> np.ndarray:
    """Element-wise function of an int8 tensor: table[x + 128] (table from tables.build_table)."""
    x = _require(x, np.int8, "x")
    table = np.asarray(table)
    if table.shape != (256,):
        raise ValueError(f"apply_table: table must have 256 entries, got {table.shape}")
    return table[x.astype(np.int16) + 128]


def mul_by_map(x, occlusion) -> np.ndarray:
    """Multiply int8 [N,C,H,W] by a uint8 Q8 map [N,1,H,W]: sat8(round_shift(x * m, 8)).

    The output keeps the scale of x (the map lies in [0, 255/256]).
    """
    x = _require(x, np.int8, "x")
    occlusion = _require(occlusion, np.uint8, "occlusion")
    if occlusion.shape != (x.shape[0], 1) + x.shape[2:]:
        raise ValueError(f"mul_by_map: map {occlusion.shape} does not match x {x.shape}")
    return sat_int8(round_shift(x.astype(np.int32) * occlusion, MAP_FRAC_BITS))


def _resize_taps(in_size: int, out_size: int):
    """Source index pair and Q8 fraction per output index, align_corners=False (torch convention).

    src = max(0, (2 d + 1) in - out) / (2 out), rounded half up to Q8 by one integer division.
    """
    twice_src = np.maximum((2 * np.arange(out_size) + 1) * in_size - out_size, 0)
    src_q8 = (twice_src * (1 << MAP_FRAC_BITS) + out_size) // (2 * out_size)
    first = src_q8 >> MAP_FRAC_BITS
    fraction = src_q8 & ((1 << MAP_FRAC_BITS) - 1)
    return first, np.minimum(first + 1, in_size - 1), fraction


def _bilinear_sum(values: np.ndarray, out_h: int, out_w: int, row_axis: int) -> np.ndarray:
    """Sum of the four taps times their (Q8 row weight · Q8 column weight), int32, resizing
    axes (row_axis, row_axis + 1) with the taps of _resize_taps.

    Evaluated separably, rows then columns: wy·wx·v summed over the four taps is the same
    integer as Σ_x wx · (Σ_y wy · v). With non-negative weights summing to 2^8 per axis, every
    intermediate is bounded by 2^8 resp. 2^16 times max |v| <= 2^15: int32.
    """
    one = 1 << MAP_FRAC_BITS
    wide = values.astype(np.int32)
    for axis, out_size in ((row_axis, out_h), (row_axis + 1, out_w)):
        first, second, fraction = _resize_taps(wide.shape[axis], out_size)
        shape = [1] * wide.ndim
        shape[axis] = out_size
        fraction = fraction.astype(np.int32).reshape(shape)
        wide = (np.take(wide, first, axis=axis) * (one - fraction)
                + np.take(wide, second, axis=axis) * fraction)
    return wide


def resize_map_bilinear(occlusion, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize (align_corners=False) of a uint8 Q8 map [N,1,H,W] to [N,1,out_h,out_w].

    v = round_shift(sum of 4 taps * (Q8 row weight * Q8 column weight), 16); stays in [0, 255].
    """
    occlusion = _require(occlusion, np.uint8, "occlusion")
    total = _bilinear_sum(occlusion, out_h, out_w, row_axis=2)
    return round_shift(total, 2 * MAP_FRAC_BITS).astype(np.uint8)


def resize_field_bilinear(field, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize (align_corners=False) of an int16 Q2.13 field [N,H,W,2] to [N,out_h,out_w,2].

    The taps of resize_map_bilinear: v = sat16(round_shift(sum of 4 taps * Q8 * Q8 weight, 16)).
    The weighted sum of int16 values fits int32 (|v| * 2^16 + 2^15 < 2^31 for v in int16).
    """
    field = _require(field, np.int16, "field")
    total = _bilinear_sum(field, out_h, out_w, row_axis=1)
    return sat_int16(round_shift(total, 2 * MAP_FRAC_BITS))


def pixels_to_int8(pixels, table) -> np.ndarray:
    """Input image: uint8 pixels (any shape) -> int8 codes table[p] (tables.pixel_table)."""
    pixels = _require(pixels, np.uint8, "pixels")
    table = _require(table, np.int8, "table")
    if table.shape != (256,):
        raise ValueError(f"pixels_to_int8: table must have 256 entries, got {table.shape}")
    return table[pixels]


# --- dense motion: softmax masks, keypoints, heatmaps, deformation ------------------------------


def softmax_masks(logits, exp_table) -> np.ndarray:
    """Softmax over axis 1 of int8 logits [N,C,H,W] -> uint16 Q15 masks [N,C,H,W].

    e_c = exp_table[max - x_c]; recip = 2^39 // sum_c e_c (one division per pixel);
    mask_c = round_shift(e_c * recip, 24). exp_table: tables.softmax_exp_table (uint16, [0] = 2^15).
    """
    logits = _require(logits, np.int8, "logits")
    exp_table = _require(exp_table, np.uint16, "exp_table")
    distance = logits.max(axis=1, keepdims=True).astype(np.int16) - logits  # in [0, 255]
    exps = exp_table[distance].astype(np.int64)
    reciprocal = (1 << SOFTMAX_RECIPROCAL_BITS) // exps.sum(axis=1, keepdims=True)
    masks = round_shift(exps * reciprocal, SOFTMAX_RECIPROCAL_BITS - UNIT_FRAC_BITS)
    return masks.astype(np.uint16)


def kp_to_fixed(keypoints) -> np.ndarray:
    """Host-side, once per frame: FP16 keypoints [N,K,2] -> int16 Q2.13, rounded half up, saturated.

    float64(fp16) * 2^13 + 0.5 is exact, so this equals the exact rounding of the FP16 value.
    """
    keypoints = _require(keypoints, np.float16, "keypoints")
    if not np.all(np.isfinite(keypoints)):
        raise ValueError("kp_to_fixed: keypoint is NaN or infinite")
    return sat_int16(_round_half_up(np.ldexp(keypoints.astype(np.float64), COORD_FRAC_BITS)))


def keypoint_heatmaps(grid, kp_driving, kp_source, gauss_table, index_shift: int, mult, shift):
    """Gaussian heatmap difference, driving minus source, with a zero background channel.

    grid: int16 Q2.13 [H,W,2] (tables.coordinate_grid); keypoints: int16 Q2.13 [N,K,2];
    gauss_table, index_shift: tables.gaussian_exp_table; (mult, shift): quantize_multiplier of
    2^-15 / heatmap scale. Returns int8 [N,K+1,H,W], channel 0 all zero.
    """
    grid = _require(grid, np.int16, "grid")
    gauss_table = _require(gauss_table, np.uint16, "gauss_table")

    def heat(keypoints):
        keypoints = _require(keypoints, np.int16, "keypoints").astype(np.int32)
        dx, dy = (np.clip(grid[:, :, axis].astype(np.int32) - keypoints[:, :, None, None, axis],
                          -INT16_MAX, INT16_MAX) for axis in (0, 1))
        squared = dx * dx + dy * dy  # int32: the clamp keeps it <= 2 · 32767^2 < 2^31
        index = np.minimum(round_shift(squared, index_shift), gauss_table.size - 1)
        return gauss_table[index].astype(np.int32)

    difference = heat(kp_driving) - heat(kp_source)  # Q15, in [-2^15, 2^15]
    heatmaps = requantize(difference, mult, shift, relu=False)
    background = np.zeros((heatmaps.shape[0], 1) + heatmaps.shape[2:], dtype=np.int8)
    return np.concatenate([background, heatmaps], axis=1)


def sparse_motion(grid, kp_driving, kp_source) -> np.ndarray:
    """FOMM sparse motion without Jacobians, int16 Q2.13 [N,K+1,H,W,2] (x, y).

    Channel 0 is the grid (background); channel k is sat16(grid + kp_source[k-1] - kp_driving[k-1]).
    """
    grid = _require(grid, np.int16, "grid").astype(np.int32)
    shift = _require(kp_source, np.int16, "kp_source").astype(np.int32) - _require(
        kp_driving, np.int16, "kp_driving"
    ).astype(np.int32)
    moved = sat_int16(grid[None, None] + shift[:, :, None, None, :])
    identity = np.broadcast_to(grid.astype(np.int16), (moved.shape[0], 1) + grid.shape)
    return np.concatenate([identity, moved], axis=1)


def deformation_field(sparse, masks) -> np.ndarray:
    """Mask-weighted sum of sparse motions -> int16 Q2.13 [N,H,W,2].

    sparse: int16 [N,C,H,W,2]; masks: uint16 Q15 [N,C,H,W] (softmax_masks).
    d = sat16(round_shift(sum_c mask_c * sparse_c, 15)).
    """
    sparse = _require(sparse, np.int16, "sparse")
    masks = _require(masks, np.uint16, "masks")
    total = (masks.astype(np.int64)[..., None] * sparse).sum(axis=1)
    return sat_int16(round_shift(total, UNIT_FRAC_BITS))


# --- grid sample engine ---------------------------------------------------------------------------


def _pixel_coordinate(normalised: np.ndarray, size: int) -> np.ndarray:
    """Q2.13 normalised coordinate -> pixel coordinate in Q(GRID_WEIGHT_BITS), align_corners=False.

    p = ((g + 1) * size - 1) / 2 is exact in Q14 as (g_q + 2^13) * size - 2^13, then rounded.
    """
    one = 1 << COORD_FRAC_BITS
    exact_q14 = (normalised.astype(np.int32) + one) * size - one
    return round_shift(exact_q14, COORD_FRAC_BITS + 1 - GRID_WEIGHT_BITS)


def grid_sample_int8(x, grid) -> np.ndarray:
    """Bilinear grid sample, zero padding, align_corners=False, of int8 [N,C,H,W].

    grid: int16 Q2.13 [N,Ho,Wo,2] as (x, y). Output int8 [N,C,Ho,Wo] at the scale of x:
    sat8(round_shift(sum over 4 corners of wy * wx * value, 22)), outside corners count 0.
    """
    x = _require(x, np.int8, "x")
    grid = _require(grid, np.int16, "grid")
    batch, channels, height, width = x.shape
    if grid.shape[0] != batch or grid.shape[-1] != 2 or height > 1 << 14 or width > 1 << 14:
        raise ValueError(f"grid_sample_int8: x {x.shape}, grid {grid.shape}")
    px = _pixel_coordinate(grid[..., 0], width).reshape(batch, -1)
    py = _pixel_coordinate(grid[..., 1], height).reshape(batch, -1)
    one = 1 << GRID_WEIGHT_BITS
    left, frac_x = px >> GRID_WEIGHT_BITS, (px & (one - 1)).astype(np.int32)
    top, frac_y = py >> GRID_WEIGHT_BITS, (py & (one - 1)).astype(np.int32)
    # A one-pixel zero border: a corner outside the image reads a border zero instead of being
    # masked (its coordinate clamped to [-1, size], then shifted by the border).
    bordered = np.zeros((batch, channels, height + 2, width + 2), dtype=np.int8)
    bordered[:, :, 1:-1, 1:-1] = x
    bordered = bordered.reshape(batch, channels, -1)
    # int32 sums: the four weights sum to 2^22, so |acc| <= 2^29 (docs/numerics.md §13).
    total = np.zeros((batch, channels, px.shape[1]), dtype=np.int32)
    for rows, weight_y in ((top, one - frac_y), (top + 1, frac_y)):
        row_index = (np.clip(rows, -1, height) + 1) * (width + 2)
        for cols, weight_x in ((left, one - frac_x), (left + 1, frac_x)):
            index = row_index + np.clip(cols, -1, width) + 1
            weight = weight_y * weight_x
            for image in range(batch):
                total[image] += weight[image] * np.take(bordered[image], index[image], axis=1)
    out = _round_shift_sat8(total, 2 * GRID_WEIGHT_BITS, relu=False)
    return out.reshape(batch, channels, *grid.shape[1:3])
