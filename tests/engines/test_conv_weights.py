"""The conv weight layout: byte for byte against a per-byte reference of docs/engines.md's order."""

import numpy as np
import pytest

from grace_flow.engines.conv_weights import conv_weight_bytes, conv_weight_layout
from grace_flow.engines.spec import default_spec


def _spec(unroll_in: int, unroll_out: int, in_block: int) -> dict:
    return {**default_spec("conv"), "unroll_in": unroll_in, "unroll_out": unroll_out,
            "in_block": in_block, "max_in_channels": 60 * unroll_in,
            "max_out_channels": 60 * unroll_out}


def _reference(weight: np.ndarray, ui: int, uo: int, block: int) -> bytes:
    """Entry by entry: for output block, input block, tap, group; byte u·uo + o of an entry of
    ⌈ui·uo/8⌉ words is weight[ob·uo + o][ib·block + g·ui + u][tap], 0 outside the tensor and
    the input block."""
    out_c, in_c, k, _ = weight.shape
    entry = 8 * -(-ui * uo // 8)
    out = bytearray()
    for ob in range(-(-out_c // uo)):
        for ib in range(-(-in_c // block)):
            nb = min(block, in_c - ib * block)
            for tap in range(k * k):
                for g in range(-(-nb // ui)):
                    data = bytearray(entry)
                    for u in range(ui):
                        for o in range(uo):
                            oc, ic = ob * uo + o, ib * block + g * ui + u
                            if oc < out_c and g * ui + u < nb:
                                data[u * uo + o] = weight[oc, ic].reshape(-1)[tap] & 0xFF
                    out += data
    return bytes(out)


@pytest.mark.parametrize("ui, uo, in_block", [(3, 5, 6), (4, 4, 8), (9, 16, 18), (1, 3, 2),
                                              (2, 7, 4), (5, 2, 15)])
@pytest.mark.parametrize("out_c, in_c, k", [(1, 1, 1), (7, 5, 3), (17, 19, 1), (6, 23, 7),
                                            (16, 18, 3), (3, 40, 3)])
def test_layout_matches_the_per_byte_reference(ui, uo, in_block, out_c, in_c, k):
    """Odd shapes: out_c not a multiple of unroll_out, in_c not one of unroll_in or in_block,
    entries of ui·uo bytes padded to words; the size function agrees."""
    rng = np.random.default_rng(out_c * 1000 + in_c * 10 + k)
    weight = rng.integers(-127, 128, (out_c, in_c, k, k), dtype=np.int8)
    spec = _spec(ui, uo, in_block)
    got = conv_weight_layout(weight, spec)
    assert got == _reference(weight, ui, uo, in_block)
    assert len(got) == conv_weight_bytes(out_c, in_c, k, spec)


def test_in_block_rounds_up_to_whole_groups():
    """in_block 7 with unroll_in 3 buffers 9 channels: the layout follows IN_BLOCK, not in_block."""
    weight = np.arange(4 * 20 * 9, dtype=np.int64).reshape(4, 20, 3, 3).astype(np.int8)
    assert conv_weight_layout(weight, _spec(3, 4, 7)) == _reference(weight, 3, 4, 9)
