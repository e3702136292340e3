"""Post-training static quantization: fused float graph + calibrated ranges → QuantizedGraph.

Weights are int8 symmetric per output channel, activations int8 per tensor (zero point 0), biases
int32; every other tensor has the fixed format of docs/numerics.md §2. Tensors that must share one
scale are grouped first: a concat's inputs and output (producers requantize straight into the
concat buffer) and the input and output of a scale-preserving op (grid_sample, mul_map).
"""

from __future__ import annotations

import numpy as np

from grace_flow.errors import FlowError
from grace_flow.quant import numerics, tables
from grace_flow.quant.graph import FusedGraph, Node
from grace_flow.quant.qgraph import (COORDINATE, MAP_Q8, PIXELS, UNIT_Q15, QuantizedGraph,
                                     int8_format)

#: The source image spans [0, 1]: amax 1 gives scale 1/127 and pixel 255 → code 127.
SOURCE_AMAX = 1.0
#: Ops whose int8 output has the scale of their first input.
SCALE_PRESERVING = ("grid_sample", "mul_map")


class QuantizationError(FlowError):
    """A layer that cannot be quantized (non-finite weights, scales out of range)."""


def _round(values) -> np.ndarray:
    """Round half up, as every compile-time derivation does (docs/numerics.md §1)."""
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5).astype(np.int64)


def shared_scale_groups(graph: FusedGraph) -> dict[str, str]:
    """Map every tensor that must share a scale to its group's representative tensor."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    for node in graph.nodes:
        tied = node.inputs if node.op == "concat" else (
            node.inputs[:1] if node.op in SCALE_PRESERVING else [])
        for name in tied:
            parent[find(name)] = find(node.output)
    return {name: find(name) for name in parent}


def activation_scales(graph: FusedGraph, amax: dict[str, float]) -> dict[str, float]:
    """int8 scale of every int8 tensor (and the source): max amax of its group / 127."""
    ranges = {**amax, "source": SOURCE_AMAX}
    groups = shared_scale_groups(graph)
    group_amax: dict[str, float] = {}
    for name, value in ranges.items():
        root = groups.get(name, name)
        group_amax[root] = max(group_amax.get(root, 0.0), value)
    return {name: group_amax[groups.get(name, name)] / 127 for name in ranges}


def _check_finite(node: Node, graph: FusedGraph) -> None:
    for key, array in graph.params.items():
        if key.startswith(f"{node.name}.") and not np.all(np.isfinite(array)):
            raise QuantizationError(f"quantize: layer {node.name}: {key} has NaN or infinite "
                                    "values: retrain or re-export the checkpoint")


def _multiplier(node: Node, real):
    try:
        return numerics.quantize_multiplier(real)
    except ValueError as error:
        raise QuantizationError(f"quantize: layer {node.name}: {error}") from None


def _conv(node: Node, graph: FusedGraph, scales: dict) -> tuple[dict, list[float]]:
    weight = graph.params[f"{node.name}.weight"].astype(np.float64)
    bias = graph.params[f"{node.name}.bias"].astype(np.float64)
    w_scale = np.abs(weight).reshape(len(weight), -1).max(1) / 127
    w_scale[w_scale == 0] = 1.0  # an all-zero channel: any scale reconstructs it
    w_q = np.clip(_round(weight / w_scale[:, None, None, None]), -127, 127).astype(np.int8)
    acc_scale = scales[node.inputs[0]] * w_scale
    b_q = _round(bias / acc_scale)
    if np.abs(b_q).max() > numerics.INT32_MAX:
        raise QuantizationError(f"quantize: layer {node.name}: bias does not fit int32 at input "
                                f"scale {scales[node.inputs[0]]:.3g}: check the calibration")
    params = {"weight": w_q, "bias": b_q.astype(np.int32)}
    out_scale = scales[node.output]
    if node.attrs["residual"]:
        if node.attrs["relu"] or node.attrs["pool"]:
            raise QuantizationError(f"quantize: layer {node.name}: a residual conv with ReLU or "
                                    "pool is not supported by the conv engine")
        try:
            ma, mr, shift = numerics.residual_params(acc_scale, scales[node.inputs[1]], out_scale)
        except ValueError as error:
            raise QuantizationError(f"quantize: layer {node.name}: {error}") from None
        params.update(mult_acc=ma, mult_res=mr, shift=shift.astype(np.int32))
    else:
        params["mult"], params["shift"] = _multiplier(node, acc_scale / out_scale)
    return params, w_scale.tolist()


def _node_params(node: Node, graph: FusedGraph, scales: dict, formats: dict) -> dict:
    """Integer parameters of a non-conv node; also sets the format of its output."""
    shape = graph.shapes[node.output]
    if node.op == "affine":
        mult, shift, bias = numerics.channel_affine_params(
            scales[node.inputs[0]], graph.params[f"{node.name}.scale"],
            graph.params[f"{node.name}.shift"], scales[node.output])
        return {"mult": mult, "shift": shift, "bias": bias}
    if node.op == "heatmap":
        table, index_shift = tables.gaussian_exp_table(node.attrs["variance"])
        mult, shift = _multiplier(node, 2.0**-numerics.UNIT_FRAC_BITS / scales[node.output])
        return {"grid": tables.coordinate_grid(shape[1], shape[2]), "gauss_table": table,
                "index_shift": np.int32(index_shift), "mult": mult, "shift": shift}
    if node.op == "sparse_motion":
        formats[node.output] = COORDINATE
        return {"grid": tables.coordinate_grid(shape[1], shape[2])}
    if node.op == "softmax":
        formats[node.output] = UNIT_Q15
        return {"exp_table": tables.softmax_exp_table(scales[node.inputs[0]])}
    if node.op == "deformation":
        formats[node.output] = COORDINATE
    elif node.op == "resize":
        formats[node.output] = formats[node.inputs[0]]
    elif node.op == "table":
        if node.attrs.get("function") != "sigmoid":
            raise QuantizationError(f"quantize: layer {node.name}: table function "
                                    f"{node.attrs.get('function')!r} is not supported")
        prediction = node.output == graph.outputs.get("prediction")
        formats[node.output] = PIXELS if prediction else MAP_Q8
        out_scale = PIXELS["scale"] if prediction else 2.0**-MAP_Q8["frac_bits"]
        sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
        return {"table": tables.build_table(sigmoid, scales[node.inputs[0]], out_scale,
                                            np.uint8)}
    return {}


def quantize_graph(graph: FusedGraph, amax: dict[str, float]) -> QuantizedGraph:
    """Derive every integer parameter of ``graph`` from the calibrated ``amax`` per int8 tensor."""
    scales = activation_scales(graph, amax)
    formats = {"source": int8_format(scales["source"]), "kp_source": COORDINATE,
               "kp_driving": COORDINATE}
    params = {"source.pixel_table": tables.pixel_table(scales["source"])}
    weight_scales = {}
    for node in graph.nodes:
        _check_finite(node, graph)
        if node.output in scales:
            formats[node.output] = int8_format(scales[node.output])
        if node.op == "conv":
            node_params, weight_scales[node.name] = _conv(node, graph, scales)
        else:
            node_params = _node_params(node, graph, scales, formats)
        params.update({f"{node.name}.{key}": np.asarray(v) for key, v in node_params.items()})
    missing = [n.output for n in graph.nodes if n.output not in formats]
    if missing:
        raise QuantizationError(f"quantize: no calibrated range for {missing[0]}: recalibrate")
    return QuantizedGraph(list(graph.nodes), dict(graph.shapes), list(graph.inputs),
                          dict(graph.outputs), formats, params, weight_scales)
