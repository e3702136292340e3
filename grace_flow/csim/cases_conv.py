"""conv self-test cases: conv2d_int8 + requantize / requantize_residual (+ avg_pool2x2).

Case i uses kernel kernel_sizes[i mod K] and stride strides[(i div K) mod S], so K × S cases cover
the grid; the fused features are drawn among those the spec has. Every 8th case has extreme
weights and activations (saturating outputs); fixed residues of i reach max_in_channels, max_out_channels and
the widest row as read.
"""

import numpy as np

from grace_flow.csim.draft import Draft
from grace_flow.engines.conv_weights import conv_weight_layout
from grace_flow.engines.spec import conv_band_rows, engine_constants
from grace_flow.quant import numerics as nx

#: Largest in_c · k² for which conv2d_int8's int32 accumulator bound holds (with a 2^16 bias).
MAX_FAN_IN = (nx.INT32_MAX - (1 << 16)) >> 14
#: Input channel counts of ordinary cases (odd ones split unroll groups unevenly).
SMALL_CHANNELS = (1, 3, 5, 16, 33)


def _min_read(kernel: int, pad: int, stride: int, pool: bool) -> int:
    """Fewest rows (or columns) as read that give ≥ 1 stored output row (≥ 2 before a pool)."""
    rows_out = 2 if pool else 1
    return max(kernel - 2 * pad + (rows_out - 1) * stride, 1)


def _servable_kernels(spec: dict) -> list[int]:
    """Kernels for which some input fits max_width (an even k needs 2 columns even padded)."""
    kernels = sorted(
        {k for k in spec["kernel_sizes"] if k - 2 * ((k - 1) // 2) <= spec["max_width"]}
    )
    if not kernels:
        raise ValueError(f"conv spec max_width {spec['max_width']} fits none of its kernel sizes")
    return kernels


def _layer(spec: dict, rng: np.random.Generator, index: int) -> dict:
    """Kernel, stride, padding, features and sizes of case ``index``, all within ``spec``."""
    kernels, strides = _servable_kernels(spec), sorted(set(spec["strides"]))
    features = spec["features"]
    kernel = kernels[index % len(kernels)]
    stride = strides[index // len(kernels) % len(strides)]
    pad = int(rng.integers(0, (kernel - 1) // 2 + 1))
    upsample = "upsample" in features and bool(rng.integers(2))
    pool = "pool" in features and bool(rng.integers(2))
    # A pooled band needs a pair of rows: a kernel and stride the band cannot hold two of are
    # refused with pool (PARAM), so such a case is drawn without it.
    pool = pool and conv_band_rows(spec, kernel, stride, True) > 0
    residual = "residual" in features and bool(rng.integers(3) == 0)
    relu = "relu" in features and not residual and bool(rng.integers(2))
    width = spec["max_width"]
    # Shed what does not fit a narrow spec: the pool's extra rows, then upsampling, then pad.
    if pool and -(-_min_read(kernel, pad, stride, pool) // (1 + upsample)) > width >> upsample:
        pool = False
    if upsample and -(-_min_read(kernel, pad, stride, pool) // 2) > width >> 1:
        upsample = False
    if _min_read(kernel, pad, stride, pool) > width:
        pad = (kernel - 1) // 2
    factor = 2 if upsample else 1
    low = -(-_min_read(kernel, pad, stride, pool) // factor)
    max_in = min(spec["max_in_channels"], MAX_FAN_IN // (kernel * kernel))
    if index % 5:
        in_c = int(rng.choice([c for c in SMALL_CHANNELS if c <= max_in] or [max_in]))
    else:
        in_c = max_in if index % 20 == 0 else int(rng.integers(max(1, max_in // 2 - 4), max_in + 1))
    out_c = int(rng.integers(1, min(13, spec["max_out_channels"]) + 1))
    if index % 25 == 12:  # every output-channel block; few inputs keep the MAC count small
        out_c, in_c = spec["max_out_channels"], min(in_c, 3)
    in_w = int(rng.integers(low, min(low + 9, width // factor) + 1))
    if index % 10 == 3:
        in_w = width // factor
    in_h = int(rng.integers(low, low + 9))
    if index % 10 == 7:  # at least two whole bands of tile_rows stored rows
        in_h = low + 2 * spec["tile_rows"] * stride * (2 if pool else 1)
    return dict(kernel=kernel, stride=stride, pad=pad, upsample=upsample, pool=pool,
                residual=residual, relu=relu, in_c=in_c, out_c=out_c, in_h=in_h, in_w=in_w,
                saturate=index % 8 == 0, bands=index % 10 == 7)


def _tags(spec: dict, p: dict) -> dict[str, tuple]:
    names = ("relu", "pool", "upsample", "residual")
    edges = [name for name, hit in (
        ("saturate", p["saturate"]), ("pad", p["pad"] > 0), ("bands", p["bands"]),
        ("max_in_channels", p["in_c"] == spec["max_in_channels"]),
        ("max_out_channels", p["out_c"] == spec["max_out_channels"]),
        ("max_width", p["in_w"] * (2 if p["upsample"] else 1) == spec["max_width"]),
        # Several input-channel blocks accumulate into one tile.
        ("in_blocks", p["in_c"] > engine_constants("conv", spec)["IN_BLOCK"]),
    ) if hit]
    return {"kernels": (p["kernel"],), "strides": (p["stride"],),
            "features": tuple(name for name in names if p[name]), "edges": tuple(edges)}


def conv_case(spec: dict, rng: np.random.Generator, index: int) -> Draft:
    """Draw conv case ``index`` for ``spec``: operands, registers and the golden output."""
    p = _layer(spec, rng, index)
    k, in_c, out_c = p["kernel"], p["in_c"], p["out_c"]
    x = rng.integers(-128, 128, (1, in_c, p["in_h"], p["in_w"]), dtype=np.int8)
    if p["saturate"]:
        # Extreme activations too: products of ±128 · 127 fill a packed DSP chain's low field
        # to its limit (kernels/dsp_pack.h).
        x = rng.choice(np.array([-128, 127], dtype=np.int8), x.shape)
        w = rng.choice(np.array([-127, 127], dtype=np.int8), (out_c, in_c, k, k))
    else:
        w = rng.integers(-127, 128, (out_c, in_c, k, k), dtype=np.int8)
    bias = rng.integers(-(1 << 16), 1 << 16, out_c, dtype=np.int32)
    # Output scale about 1/fan_in of the accumulator's: saturating cases skip the usual 1/64.
    scale = rng.uniform(0.5, 2.0, out_c) / (in_c * k * k * (1 if p["saturate"] else 64.0))
    acc = nx.conv2d_int8(x, w, bias, p["stride"], p["pad"], p["upsample"])
    flags = p["relu"] | p["pool"] << 1 | p["upsample"] << 2 | p["residual"] << 3
    draft = Draft(
        regs=dict(in_c=in_c, in_h=p["in_h"], in_w=p["in_w"], out_c=out_c, kernel=k,
                  stride=p["stride"], pad=p["pad"], flags=flags),
        tags=_tags(spec, p),
    )
    draft.input("in_off", x, 1)
    # In the engine's folding order, as compile lays them out.
    draft.input("w_off", np.frombuffer(conv_weight_layout(w, spec), np.uint8), 1)
    draft.input("bias_off", bias.astype("<i4"), 4)
    if p["residual"]:
        # The residual scale sits 2^4..2^12 above the accumulator scale, as in FOMM.
        res_scale = float(scale.max() * rng.uniform(16, 4096))
        mult, res_mult, shift = nx.residual_params(scale, res_scale, 1.0)
        res = rng.integers(-128, 128, acc.shape, dtype=np.int8)
        y = nx.requantize_residual(acc, res, mult, res_mult, shift)
        draft.input("res_off", res, 1)
        draft.input("res_mult_off", res_mult.astype("<i4"), 4)
    else:
        mult, shift = nx.quantize_multiplier(scale)
        y = nx.requantize(acc, mult, shift, p["relu"])
    draft.input("mult_off", mult.astype("<i4"), 4)
    draft.input("shift_off", shift.astype(np.uint8), 1)
    draft.output("out_off", (nx.avg_pool2x2(y) if p["pool"] else y)[0], 1)
    return draft
