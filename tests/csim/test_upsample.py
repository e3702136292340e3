"""upsample engine: C-sim matches resize_map_bilinear (up, down, identity, odd ratios)."""

import numpy as np
import pytest
from csim_support import Ddr, assert_exact, run_case

from grace_flow.csim.engines import EngineError
from grace_flow.quant import numerics as nx

CASES = 60


@pytest.mark.parametrize("case", range(CASES))
def test_upsample_matches_golden(engine_library, case):
    """Random maps, sizes from 1 to 96 each way (so shrinking, growing and equal), extremes."""
    library = engine_library("upsample")
    rng = np.random.default_rng(2000 + case)
    channels = int(rng.integers(1, 4))
    in_h, in_w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    if case % 5 == 0:
        out_h, out_w = in_h, in_w
    elif case % 5 == 1:
        out_h, out_w = 2 * in_h, 4 * in_w
    else:
        out_h, out_w = int(rng.integers(1, 97)), int(rng.integers(1, 97))
    values = [0, 255] if case % 6 == 0 else None
    m = (rng.choice(np.array(values, dtype=np.uint8), (channels, 1, in_h, in_w)) if values
         else rng.integers(0, 256, (channels, 1, in_h, in_w), dtype=np.uint8))
    want = nx.resize_map_bilinear(m, out_h, out_w)[:, 0]
    ddr = Ddr(rng)
    regs = dict(mode=0, in_off=ddr.put(m, 1), out_off=ddr.output(np.uint8, want.shape, 1),
                channels=channels, in_h=in_h, in_w=in_w, out_h=out_h, out_w=out_w)
    run_case(library, ddr, regs)
    assert_exact("upsample", case, "map", ddr.get(regs["out_off"], np.uint8, want.shape), want)


def test_upsample_refuses_unknown_mode(engine_library):
    """Only the map mode is built; another mode is refused before anything is written."""
    ddr = Ddr(np.random.default_rng(0))
    regs = dict(mode=1, in_off=0, out_off=64, channels=1, in_h=2, in_w=2, out_h=4, out_w=4)
    with pytest.raises(EngineError, match=r"^upsample: status 2 PARAM: "):
        engine_library("upsample").run(ddr.bytes, regs)
