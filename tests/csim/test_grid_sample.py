"""grid_sample engine: C-sim matches grid_sample_int8, in the band cache and outside it."""

import numpy as np
import pytest
from csim_support import assert_case, assert_exact, run_case

from grace_flow.csim.cases import make_case
from grace_flow.csim.cases_ops import GRID_KINDS, random_grid
from grace_flow.csim.ddr import Ddr
from grace_flow.engines.spec import default_spec
from grace_flow.quant import numerics as nx

CASES = 60
SPEC = default_spec("grid_sample")


@pytest.mark.parametrize("case", range(CASES))
def test_grid_sample_matches_golden(engine_library, case):
    """Random sources and grids of every kind, source taller than the band: bit-exact."""
    assert_case(engine_library("grid_sample"),
                make_case("grid_sample", SPEC, np.random.default_rng(1000 + case), case))


def test_grid_sample_motion_form_is_one_instruction_per_grid(engine_library):
    """The dense-motion 5-D form (one source, K + 1 grids) is K + 1 instructions."""
    library = engine_library("grid_sample")
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 3, 16, 16), dtype=np.int8)
    grids = [random_grid(rng, GRID_KINDS[k % 2], 16, 16) for k in range(5)]
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
