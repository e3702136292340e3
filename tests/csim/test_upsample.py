"""upsample engine: C-sim matches resize_map_bilinear and resize_field_bilinear."""

import numpy as np
import pytest
from csim_support import assert_case

from grace_flow.csim.cases import make_case
from grace_flow.csim.ddr import Ddr
from grace_flow.runtime.engines import EngineError
from grace_flow.engines.spec import default_spec

CASES = 60


def _case(mode: str, seed: int, index: int):
    """Case ``index`` of one mode: a spec with only that mode gives it every case."""
    spec = {**default_spec("upsample"), "modes": [mode]}
    return make_case("upsample", spec, np.random.default_rng(seed), index)


@pytest.mark.parametrize("case", range(CASES))
def test_upsample_map_matches_golden(engine_library, case):
    """Random uint8 maps, extremes 0 / 255 only in some cases."""
    assert_case(engine_library("upsample"), _case("map", 2000 + case, case))


@pytest.mark.parametrize("case", range(CASES))
def test_upsample_field_matches_golden(engine_library, case):
    """Random Q2.13 fields, some only at the int16 extremes (the int32 bound of the sum)."""
    assert_case(engine_library("upsample"), _case("field", 2500 + case, case))


def test_upsample_refuses_unknown_mode(engine_library):
    """A mode that does not exist is refused before anything is written."""
    ddr = Ddr(np.random.default_rng(0))
    regs = dict(mode=2, in_off=0, out_off=64, channels=1, in_h=2, in_w=2, out_h=4, out_w=4)
    with pytest.raises(EngineError, match=r"^upsample: status 2 PARAM: "):
        engine_library("upsample").run(ddr.bytes, regs)
