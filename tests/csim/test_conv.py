"""conv engine: C-sim matches conv2d_int8 + requantize / requantize_residual + avg_pool2x2."""

import numpy as np
import pytest
from csim_support import Ddr, assert_exact, run_case

from grace_flow.csim.engines import EngineError
from grace_flow.quant import numerics as nx

CASES = 64


def _case(seed: int) -> dict:
    """Random layer within the default spec; every 8th case has extreme weights (saturation)."""
    rng = np.random.default_rng(seed)
    kernel = int(rng.choice([1, 3, 5, 7]))
    stride = int(rng.choice([1, 2]))
    pad = int(rng.integers(0, kernel // 2 + 1))
    upsample, pool = bool(rng.integers(2)), bool(rng.integers(2))
    residual = bool(rng.integers(3) == 0)
    relu = not residual and bool(rng.integers(2))
    in_c = int(rng.choice([1, 3, 5, 16, 33])) if seed % 5 else int(rng.integers(60, 129))
    out_c = int(rng.integers(1, 14))
    factor = 2 if upsample else 1
    low = -(-max(kernel - 2 * pad, 1) // factor) + (2 * stride if pool else 0)
    in_h = int(rng.integers(low, low + 9))
    in_w = int(rng.integers(low, min(low + 9, 64 // factor) + 1))
    return dict(rng=rng, kernel=kernel, stride=stride, pad=pad, upsample=upsample, pool=pool,
                residual=residual, relu=relu, in_c=in_c, out_c=out_c, in_h=in_h, in_w=in_w,
                saturate=seed % 8 == 0)


def _operands(p: dict) -> dict:
    rng, k, in_c, out_c = p["rng"], p["kernel"], p["in_c"], p["out_c"]
    x = rng.integers(-128, 128, (1, in_c, p["in_h"], p["in_w"]), dtype=np.int8)
    if p["saturate"]:
        w = rng.choice(np.array([-127, 127], dtype=np.int8), (out_c, in_c, k, k))
    else:
        w = rng.integers(-127, 128, (out_c, in_c, k, k), dtype=np.int8)
    bias = rng.integers(-(1 << 16), 1 << 16, out_c, dtype=np.int32)
    fan_in = in_c * k * k
    scale = rng.uniform(0.5, 2.0, out_c) / (fan_in * 64.0 ** (0 if p["saturate"] else 1))
    acc = nx.conv2d_int8(x, w, bias, p["stride"], p["pad"], p["upsample"])
    ops = dict(x=x, w=w, bias=bias, acc=acc)
    if p["residual"]:
        # The residual scale sits 2^4..2^12 above the accumulator scale, as in FOMM.
        res_scale = float(scale.max() * rng.uniform(16, 4096))
        ma, mr, shift = nx.residual_params(scale, res_scale, 1.0)
        res = rng.integers(-128, 128, acc.shape, dtype=np.int8)
        y = nx.requantize_residual(acc, res, ma, mr, shift)
        ops.update(mult=ma, res_mult=mr, shift=shift, res=res)
    else:
        mult, shift = nx.quantize_multiplier(scale)
        y = nx.requantize(acc, mult, shift, p["relu"])
        ops.update(mult=mult, shift=shift)
    ops["y"] = nx.avg_pool2x2(y) if p["pool"] else y
    return ops


def _regs(p: dict, ops: dict, ddr: Ddr) -> dict:
    flags = p["relu"] | p["pool"] << 1 | p["upsample"] << 2 | p["residual"] << 3
    regs = dict(
        in_off=ddr.put(ops["x"], 1), w_off=ddr.put(ops["w"], 1),
        bias_off=ddr.put(ops["bias"].astype("<i4"), 4),
        mult_off=ddr.put(ops["mult"].astype("<i4"), 4),
        shift_off=ddr.put(ops["shift"].astype(np.uint8), 1),
        out_off=ddr.output(np.int8, ops["y"].shape, 1),
        in_c=p["in_c"], in_h=p["in_h"], in_w=p["in_w"], out_c=p["out_c"],
        kernel=p["kernel"], stride=p["stride"], pad=p["pad"], flags=flags,
    )
    if p["residual"]:
        regs.update(res_off=ddr.put(ops["res"], 1),
                    res_mult_off=ddr.put(ops["res_mult"].astype("<i4"), 4))
    return regs


@pytest.mark.parametrize("case", range(CASES))
def test_conv_matches_golden(engine_library, case):
    """Every fused variant, kernel 1/3/5/7, stride 1/2, padding, odd sizes: bit-exact."""
    library = engine_library("conv")
    p = _case(case)
    ops = _operands(p)
    ddr = Ddr(p["rng"])
    regs = _regs(p, ops, ddr)
    run_case(library, ddr, regs)
    got = ddr.get(regs["out_off"], np.int8, ops["y"].shape)
    assert_exact("conv", case, "y", got, ops["y"])


def test_conv_cases_cover_the_grid():
    """Every kernel × stride, and each fused op on and off, occur among the cases."""
    cases = [_case(seed) for seed in range(CASES)]
    assert {(p["kernel"], p["stride"]) for p in cases} == {
        (k, s) for k in (1, 3, 5, 7) for s in (1, 2)
    }
    for key in ("upsample", "pool", "residual", "relu", "saturate"):
        assert {p[key] for p in cases} == {False, True}, key
    assert any(p["pad"] > 0 for p in cases) and any(p["out_c"] > 8 for p in cases)


def test_conv_saturation_cases_saturate():
    """The saturation cases reach both int8 limits (else they would not test the clamp)."""
    ys = [_operands(_case(seed))["y"] for seed in range(0, CASES, 8)]
    assert min(y.min() for y in ys) == -128 and max(y.max() for y in ys) == 127


@pytest.mark.parametrize(
    "change, status",
    [
        (dict(in_c=129), "SHAPE"),
        (dict(in_w=65), "SHAPE"),
        (dict(kernel=9), "PARAM"),
        (dict(stride=3), "PARAM"),
        (dict(pad=2, kernel=3), "PARAM"),
        (dict(flags=1 << 4), "PARAM"),
        (dict(flags=0b1001), "PARAM"),
        (dict(out_off=(1 << 21) - 10), "BOUNDS"),
        (dict(w_off=(1 << 32) - 1), "BOUNDS"),
    ],
)
def test_conv_refuses_bad_instruction(engine_library, change, status):
    """A register outside the build or an operand beyond DDR is refused, and nothing is written."""
    library = engine_library("conv")
    p = _case(1)
    ops = _operands(p)
    ddr = Ddr(p["rng"])
    regs = {**_regs(p, ops, ddr), **change}
    before = ddr.bytes.copy()
    with pytest.raises(EngineError, match=rf"^conv: status \d {status}: "):
        library.run(ddr.bytes, regs)
    assert np.array_equal(ddr.bytes, before)
