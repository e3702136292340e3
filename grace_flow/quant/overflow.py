"""Accumulator overflow analysis from the actual int8 weights and int32 biases.

For a conv layer and output channel o, every partial sum of the accumulator is bounded by
Σ|w[o]| · 128 + |b[o]| (an int8 input is at most 128 in magnitude), whatever the summation order.
A residual conv also adds r · mr (|r| ≤ 128) to acc · ma in the int64 requantization register.
"""

from __future__ import annotations

from grace_flow.errors import FlowError
from grace_flow.quant.qgraph import QuantizedGraph

#: Width of the requantization product register (docs/numerics.md §3, §5).
PRODUCT_BITS = 64


class AccumulatorOverflow(FlowError):
    """A layer whose worst-case accumulator does not fit the configured width."""


def signed_bits(magnitude: int) -> int:
    """Bits of the smallest two's-complement register holding every value in [-m, m]."""
    return int(magnitude).bit_length() + 1


def accumulator_table(qgraph: QuantizedGraph, accumulator_bits: int = 32) -> list[dict]:
    """One row per conv layer: worst case |acc|, bits needed, headroom against the given width.

    Residual layers also report the worst case of the int64 residual-add register.
    """
    rows = []
    for node in qgraph.nodes:
        if node.op != "conv":
            continue
        p = qgraph.node_params(node.name)
        weight_sum = abs(p["weight"].astype("int64")).reshape(len(p["weight"]), -1).sum(1)
        per_channel = weight_sum * 128 + abs(p["bias"].astype("int64"))
        worst = int(per_channel.max())
        row = {"layer": node.name, "worst_case": worst, "bits_needed": signed_bits(worst),
               "headroom_bits": accumulator_bits - signed_bits(worst)}
        if node.attrs["residual"]:
            # acc · ma + r · mr + rounding term, per channel, with the bounded accumulator.
            total = (per_channel * abs(p["mult_acc"].astype("int64")).astype(object)
                     + 128 * abs(p["mult_res"].astype("int64")).astype(object)
                     + (1 << (p["shift"].astype("int64") - 1)).astype(object))
            residual_worst = int(max(total))
            row["residual_worst_case"] = residual_worst
            row["residual_bits_needed"] = signed_bits(residual_worst)
        rows.append(row)
    return rows


def check_accumulators(qgraph: QuantizedGraph, accumulator_bits: int = 32) -> list[dict]:
    """The accumulator table; a layer that could overflow raises AccumulatorOverflow."""
    rows = accumulator_table(qgraph, accumulator_bits)
    for row in rows:
        if row["bits_needed"] > accumulator_bits:
            raise AccumulatorOverflow(
                f"quantize: layer {row['layer']} needs a {row['bits_needed']}-bit accumulator "
                f"(worst case |acc| = {row['worst_case']}), quantize.accumulator_bits is "
                f"{accumulator_bits}: raise it or retrain with smaller weights")
        if row.get("residual_bits_needed", 0) > PRODUCT_BITS:
            raise AccumulatorOverflow(
                f"quantize: layer {row['layer']} residual add needs "
                f"{row['residual_bits_needed']} bits, the register has {PRODUCT_BITS}: "
                "recalibrate the residual block")
    return rows
