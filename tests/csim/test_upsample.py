"""upsample engine: C-sim matches resize_map_bilinear and resize_field_bilinear."""

import numpy as np
import pytest
from csim_support import Ddr, assert_exact, run_case

from grace_flow.csim.engines import EngineError
from grace_flow.quant import numerics as nx

CASES = 60


def _sizes(rng: np.random.Generator, case: int) -> tuple[int, int, int, int]:
    """Input and output sizes: equal, x2 / x4, or anything from 1 to 96 (shrinking too)."""
    in_h, in_w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    if case % 5 == 0:
        return in_h, in_w, in_h, in_w
    if case % 5 == 1:
        return in_h, in_w, 2 * in_h, 4 * in_w
    return in_h, in_w, int(rng.integers(1, 97)), int(rng.integers(1, 97))


@pytest.mark.parametrize("case", range(CASES))
def test_upsample_map_matches_golden(engine_library, case):
    """Random uint8 maps, extremes 0 / 255 only in some cases."""
    library = engine_library("upsample")
    rng = np.random.default_rng(2000 + case)
    channels = int(rng.integers(1, 4))
    in_h, in_w, out_h, out_w = _sizes(rng, case)
    values = [0, 255] if case % 6 == 0 else None
    m = (rng.choice(np.array(values, dtype=np.uint8), (channels, 1, in_h, in_w)) if values
         else rng.integers(0, 256, (channels, 1, in_h, in_w), dtype=np.uint8))
    want = nx.resize_map_bilinear(m, out_h, out_w)[:, 0]
    ddr = Ddr(rng)
    regs = dict(mode=0, in_off=ddr.put(m, 1), out_off=ddr.output(np.uint8, want.shape, 1),
                channels=channels, in_h=in_h, in_w=in_w, out_h=out_h, out_w=out_w)
    run_case(library, ddr, regs)
    assert_exact("upsample", case, "map", ddr.get(regs["out_off"], np.uint8, want.shape), want)


@pytest.mark.parametrize("case", range(CASES))
def test_upsample_field_matches_golden(engine_library, case):
    """Random Q2.13 fields, some only at the int16 extremes (the int32 bound of the sum)."""
    library = engine_library("upsample")
    rng = np.random.default_rng(2500 + case)
    channels = int(rng.integers(1, 3))
    in_h, in_w, out_h, out_w = _sizes(rng, case)
    shape = (channels, in_h, in_w, 2)
    if case % 4 == 0:
        field = rng.choice(np.array([-32768, 32767], dtype=np.int16), shape)
    else:
        field = rng.integers(-32768, 32768, shape, dtype=np.int16)
    want = nx.resize_field_bilinear(field, out_h, out_w)
    ddr = Ddr(rng)
    regs = dict(mode=1, in_off=ddr.put(field, 2), out_off=ddr.output(np.int16, want.shape, 2),
                channels=channels, in_h=in_h, in_w=in_w, out_h=out_h, out_w=out_w)
    run_case(library, ddr, regs)
    assert_exact("upsample", case, "field", ddr.get(regs["out_off"], np.int16, want.shape), want)


def test_upsample_refuses_unknown_mode(engine_library):
    """A mode that does not exist is refused before anything is written."""
    ddr = Ddr(np.random.default_rng(0))
    regs = dict(mode=2, in_off=0, out_off=64, channels=1, in_h=2, in_w=2, out_h=4, out_w=4)
    with pytest.raises(EngineError, match=r"^upsample: status 2 PARAM: "):
        engine_library("upsample").run(ddr.bytes, regs)
