"""Accumulator overflow analysis from the actual int8 weights."""

import numpy as np
import pytest

from grace_flow.quant.graph import Node
from grace_flow.quant.overflow import (AccumulatorOverflow, accumulator_table, check_accumulators,
                                       signed_bits)
from grace_flow.quant.qgraph import QuantizedGraph


def one_conv(weight, bias):
    node = Node("big", "conv", ["source"], "big",
                dict(kernel=3, stride=1, padding=1, relu=False, pool=False, upsample=False,
                     residual=None))
    params = {"big.weight": weight, "big.bias": bias,
              "big.mult": np.full(len(weight), 1 << 30, np.int32),
              "big.shift": np.full(len(weight), 40, np.int32)}
    return QuantizedGraph([node], {"source": [64, 4, 4], "big": [2, 4, 4]}, ["source"], {},
                          {}, params, {})


def test_signed_bits():
    assert [signed_bits(m) for m in (0, 1, 127, 128, 2**31 - 1)] == [1, 2, 8, 9, 32]


def test_table_is_exact():
    weight = np.zeros((2, 64, 3, 3), np.int8)
    weight[0] = 127
    weight[1, 0, 0, 0] = -5
    qgraph = one_conv(weight, np.array([-1000, 7], np.int32))
    (row,) = accumulator_table(qgraph, 32)
    worst = 64 * 9 * 127 * 128 + 1000
    assert row == {"layer": "big", "worst_case": worst, "bits_needed": 25, "headroom_bits": 7}


def test_huge_weight_layer_with_a_small_accumulator_is_an_exact_error():
    weight = np.full((2, 64, 3, 3), -127, np.int8)
    qgraph = one_conv(weight, np.zeros(2, np.int32))
    with pytest.raises(AccumulatorOverflow,
                       match=r"^quantize: layer big needs a 25-bit accumulator \(worst case "
                             r"\|acc\| = 9363456\), quantize\.accumulator_bits is 24: raise it "
                             r"or retrain with smaller weights$"):
        check_accumulators(qgraph, 24)
    assert check_accumulators(qgraph, 25)[0]["headroom_bits"] == 0
