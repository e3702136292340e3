"""elementwise engine: C-sim matches channel_affine, apply_table, mul_by_map, softmax_masks."""

import numpy as np
import pytest
from csim_support import Ddr, assert_exact, run_case

from grace_flow.quant import numerics as nx
from grace_flow.quant import tables

CASES = 64
MODES = ("affine", "table", "mul_map", "softmax")


def _shape(rng: np.random.Generator, max_c: int) -> tuple[int, int, int]:
    return int(rng.integers(1, max_c + 1)), int(rng.integers(1, 20)), int(rng.integers(1, 40))


def _affine(rng, ddr, case):
    c, h, w = _shape(rng, 16)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    gamma = rng.uniform(-3, 3, c) * (rng.integers(0, 4, c) > 0)  # some channels with gamma 0
    beta = rng.uniform(-50, 50, c) if case % 2 else rng.uniform(-1e4, 1e4, c)  # saturating
    mult, shift, bias = nx.channel_affine_params(0.05, gamma, beta, 0.05)
    relu = bool(case % 3 == 0)
    want = nx.channel_affine(x, mult, shift, bias, relu)[0]
    regs = dict(mode=0, in_off=ddr.put(x, 1), mult_off=ddr.put(mult.astype("<i4"), 4),
                shift_off=ddr.put(shift.astype(np.uint8), 1),
                bias_off=ddr.put(bias.astype("<i8"), 8), flags=int(relu),
                channels=c, height=h, width=w, out_off=ddr.output(np.int8, want.shape, 1))
    return regs, want


def _table(rng, ddr, case):
    c, h, w = _shape(rng, 8)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    if case % 4 == 3:  # the input image: int8 code of each uint8 pixel, indexed without offset
        pixels = rng.integers(0, 256, (1, c, h, w), dtype=np.uint8)
        table = tables.pixel_table(float(rng.choice([1 / 127, 1 / 100])))
        want = nx.pixels_to_int8(pixels, table)[0]
        regs = dict(mode=1, flags=1, in_off=ddr.put(pixels, 1), table_off=ddr.put(table, 1),
                    table_bytes=1, channels=c, height=h, width=w,
                    out_off=ddr.output(np.int8, want.shape, 1))
        return regs, want
    dtype = (np.uint8, np.int8, np.int16)[case % 3]
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    out_scale = {np.uint8: 1 / 256, np.int8: 1 / 127, np.int16: 1 / 30000}[dtype]
    table = tables.build_table(sigmoid if dtype == np.uint8 else np.tanh, 0.05, out_scale, dtype)
    want = nx.apply_table(x, table)[0]
    regs = dict(mode=1, in_off=ddr.put(x, 1), table_off=ddr.put(table, 2),
                table_bytes=table.itemsize, channels=c, height=h, width=w,
                out_off=ddr.output(table.dtype, want.shape, 2))
    return regs, want


def _mul_map(rng, ddr, case):
    c, h, w = _shape(rng, 16)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    m = rng.integers(0, 256, (1, 1, h, w), dtype=np.uint8)
    if case % 4 == 2:
        m[...] = 255
    want = nx.mul_by_map(x, m)[0]
    regs = dict(mode=2, in_off=ddr.put(x, 1), map_off=ddr.put(m, 1), channels=c, height=h,
                width=w, out_off=ddr.output(np.int8, want.shape, 1))
    return regs, want


def _softmax(rng, ddr, case):
    c, h, w = _shape(rng, 64)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    if case % 4 == 3:
        x[...] = rng.integers(-128, 128, dtype=np.int8)  # all-equal inputs
    elif case % 4 == 1:
        x[:, 0] = 127
        x[:, 1:] = -128  # one channel dominates, the others get table entry 255
    table = tables.softmax_exp_table(float(rng.choice([0.01, 0.05, 0.2])))
    want = nx.softmax_masks(x, table)[0]
    regs = dict(mode=3, in_off=ddr.put(x, 1), table_off=ddr.put(table.astype("<u2"), 2),
                channels=c, height=h, width=w, out_off=ddr.output(np.uint16, want.shape, 2))
    return regs, want


@pytest.mark.parametrize("case", range(CASES))
def test_elementwise_matches_golden(engine_library, case):
    """Each mode over 16 cases: gamma 0, saturation, every table type, map 255, equal logits."""
    library = engine_library("elementwise")
    rng = np.random.default_rng(3000 + case)
    mode = MODES[case % 4]
    ddr = Ddr(rng)
    regs, want = {"affine": _affine, "table": _table, "mul_map": _mul_map,
                  "softmax": _softmax}[mode](rng, ddr, case // 4)
    run_case(library, ddr, regs)
    got = ddr.get(regs["out_off"], want.dtype, want.shape)
    assert_exact("elementwise", case, mode, got, want)
