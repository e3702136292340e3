"""The exactness check itself: a perturbed golden value must fail, naming where."""

import re

import numpy as np
import pytest
from csim_support import assert_exact, run_case

from grace_flow.csim.ddr import Ddr, first_mismatch
from grace_flow.runtime.engines import EngineError
from grace_flow.quant import numerics as nx


def test_perturbed_golden_is_reported(engine_library):
    """Run a real mul_map instruction, flip one golden value: engine, case, tensor, index named."""
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (1, 3, 5, 6), dtype=np.int8)
    m = rng.integers(0, 256, (1, 1, 5, 6), dtype=np.uint8)
    want = nx.mul_by_map(x, m)[0]
    ddr = Ddr(rng)
    regs = dict(mode=2, in_off=ddr.put(x, 1), map_off=ddr.put(m, 1), channels=3, height=5,
                width=6, out_off=ddr.output(np.int8, want.shape, 1))
    run_case(engine_library("elementwise"), ddr, regs)
    got = ddr.get(regs["out_off"], np.int8, want.shape)
    assert_exact("elementwise", 0, "y", got, want)  # the unperturbed run agrees
    corrupted = want.copy()
    corrupted[2, 3, 4] ^= 1
    message = (f"elementwise case 7 tensor y: first difference at (2, 3, 4): "
               f"got {got[2, 3, 4]}, want {corrupted[2, 3, 4]}")
    with pytest.raises(AssertionError, match=rf"^{re.escape(message)}"):
        assert_exact("elementwise", 7, "y", got, corrupted)


def test_shape_and_dtype_differences_are_mismatches():
    """Equal values in another dtype or shape do not pass."""
    a = np.zeros((2, 3), dtype=np.int8)
    assert first_mismatch(a, a.copy()) is None
    assert "shape/dtype" in first_mismatch(a, a.astype(np.int16))
    assert "shape/dtype" in first_mismatch(a, a.reshape(3, 2))


def test_register_mistakes_are_one_line_errors(engine_library):
    """An unknown register name or a value beyond 32 bits is refused before the engine runs."""
    library = engine_library("upsample")
    ddr = Ddr(np.random.default_rng(0))
    with pytest.raises(EngineError, match=r"^upsample: unknown register 'in_offset'$"):
        library.run(ddr.bytes, {"in_offset": 0})
    with pytest.raises(EngineError, match=r"^upsample: register out_w = 4294967296 does not fit"):
        library.run(ddr.bytes, {"out_w": 1 << 32})
    with pytest.raises(EngineError, match=r"^upsample: DDR must be a 1-D contiguous uint8 array$"):
        library.run(ddr.bytes.view(np.int8), {})
    assert library.pack({"mode": -1})[0] == 0xFFFFFFFF
