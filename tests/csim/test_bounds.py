"""The capacity checks' byte counts (gf_mul_serial) of grid_sample, upsample, elementwise and
keypoint: operands laid back to back in a DDR image exactly their size run; with each operand
in turn last, one byte less DDR is BOUNDS."""

import numpy as np
import pytest

from grace_flow.runtime.engines import EngineError

# engine, fixed registers, operands as (offset register, bytes) in their DDR order.
SHAPE = dict(channels=3, height=5, width=7)  # elementwise: 105 elements, 35 per channel
CASES = {
    "grid_sample": (dict(channels=3, in_h=4, in_w=5, out_h=6, out_w=7),
                    [("in_off", 3 * 4 * 5), ("grid_off", 4 * 6 * 7), ("out_off", 3 * 6 * 7)]),
    "upsample field": (dict(mode=1, channels=3, in_h=4, in_w=5, out_h=6, out_w=7),
                       [("in_off", 4 * 3 * 4 * 5), ("out_off", 4 * 3 * 6 * 7)]),
    "upsample map": (dict(mode=0, channels=3, in_h=4, in_w=5, out_h=6, out_w=7),
                     [("in_off", 3 * 4 * 5), ("out_off", 3 * 6 * 7)]),
    "elementwise affine": (dict(mode=0, **SHAPE),
                           [("in_off", 105), ("out_off", 105), ("mult_off", 12),
                            ("shift_off", 3), ("bias_off", 24)]),
    "elementwise table": (dict(mode=1, table_bytes=2, **SHAPE),
                          [("in_off", 105), ("table_off", 512), ("out_off", 2 * 105)]),
    "elementwise mul_map": (dict(mode=2, **SHAPE),
                            [("in_off", 105), ("map_off", 35), ("out_off", 105)]),
    "keypoint heatmap": (dict(mode=0, num_kp=2, height=5, width=7, index_shift=4, mult=3,
                              shift=2),
                         [("grid_off", 4 * 35), ("kp_driving_off", 8), ("kp_source_off", 8),
                          ("table_off", 8192), ("out_off", 3 * 35)]),
    "keypoint sparse": (dict(mode=1, num_kp=2, height=5, width=7),
                        [("grid_off", 4 * 35), ("kp_driving_off", 8), ("kp_source_off", 8),
                         ("out_off", 4 * 3 * 35)]),
    "keypoint deform": (dict(mode=2, channels=3, height=5, width=7),
                        [("sparse_off", 4 * 105), ("masks_off", 2 * 105), ("out_off", 4 * 35)]),
}


def _layout(operands, last):
    """Registers placing the operands back to back with ``last`` at the end; the DDR size."""
    order = [op for op in operands if op[0] != last] + [op for op in operands if op[0] == last]
    regs, end = {}, 0
    for name, size in order:
        regs[name], end = end, end + size
    return regs, end


@pytest.mark.parametrize("case, last", [(case, name) for case, (_, ops) in CASES.items()
                                        for name, _ in ops])
def test_an_operand_ending_at_the_last_byte_fits_and_one_byte_less_ddr_is_bounds(
        engine_library, case, last):
    fixed, operands = CASES[case]
    regs, size = _layout(operands, last)
    engine = engine_library(case.split()[0])
    ddr = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8)
    engine.run(ddr, {**fixed, **regs})
    with pytest.raises(EngineError, match=r"status 4 BOUNDS"):
        engine.run(ddr[:-1].copy(), {**fixed, **regs})
