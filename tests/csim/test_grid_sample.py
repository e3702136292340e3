"""grid_sample engine: C-sim matches grid_sample_int8, in the band cache and outside it."""

import numpy as np
import pytest
from csim_support import Ddr, assert_exact, run_case

from grace_flow.quant import numerics as nx
from grace_flow.quant import tables

CASES = 60


def _grid(rng: np.random.Generator, kind: int, out_h: int, out_w: int) -> np.ndarray:
    """Near-identity deformations (mostly in the band), wild ones, and borders / far outside."""
    shape = (out_h, out_w, 2)
    if kind == 0:  # identity plus a small deformation: what the decoder does
        base = tables.coordinate_grid(max(out_h, 2), max(out_w, 2))[:out_h, :out_w]
        noise = rng.integers(-1200, 1201, shape)
        return np.clip(base.astype(np.int32) + noise, -32768, 32767).astype(np.int16)
    if kind == 1:  # anywhere in [-1.5, 1.5]: many samples outside the band and the image
        return rng.integers(-12288, 12289, shape).astype(np.int16)
    if kind == 2:  # the whole int16 range: mostly far outside, all four corners zero
        return rng.integers(-32768, 32768, shape, dtype=np.int16)
    # exactly on the borders (+-1, +-1 +- one LSB) and on pixel centres
    special = np.array([-8192, -8191, -8193, 8192, 8191, 8193, 0, -32768, 32767], dtype=np.int16)
    return rng.choice(special, shape)


@pytest.mark.parametrize("case", range(CASES))
def test_grid_sample_matches_golden(engine_library, case):
    """Random sources and grids of every kind, source taller than the band: bit-exact."""
    library = engine_library("grid_sample")
    rng = np.random.default_rng(1000 + case)
    channels = int(rng.choice([1, 3, 4, 7, 32])) if case % 7 else 128
    in_h, in_w = int(rng.integers(1, 41)), int(rng.integers(1, 65))
    out_h, out_w = int(rng.integers(1, 25)), int(rng.integers(1, 25))
    x = rng.integers(-128, 128, (1, channels, in_h, in_w), dtype=np.int8)
    grid = _grid(rng, case % 4, out_h, out_w)
    want = nx.grid_sample_int8(x, grid[None])[0]
    ddr = Ddr(rng)
    regs = dict(in_off=ddr.put(x, 1), grid_off=ddr.put(grid.astype("<i2"), 2),
                out_off=ddr.output(np.int8, want.shape, 1), channels=channels,
                in_h=in_h, in_w=in_w, out_h=out_h, out_w=out_w)
    run_case(library, ddr, regs)
    assert_exact("grid_sample", case, "out", ddr.get(regs["out_off"], np.int8, want.shape), want)


def test_grid_sample_motion_form_is_one_instruction_per_grid(engine_library):
    """The dense-motion 5-D form (one source, K + 1 grids) is K + 1 instructions."""
    library = engine_library("grid_sample")
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 3, 16, 16), dtype=np.int8)
    grids = [_grid(rng, k % 2, 16, 16) for k in range(5)]
    ddr = Ddr(rng)
    in_off = ddr.put(x, 1)
    for k, grid in enumerate(grids):
        want = nx.grid_sample_int8(x, grid[None])[0]
        regs = dict(in_off=in_off, grid_off=ddr.put(grid.astype("<i2"), 2),
                    out_off=ddr.output(np.int8, want.shape, 1), channels=3,
                    in_h=16, in_w=16, out_h=16, out_w=16)
        run_case(library, ddr, regs)
        got = ddr.get(regs["out_off"], np.int8, want.shape)
        assert_exact("grid_sample", k, f"motion {k}", got, want)
