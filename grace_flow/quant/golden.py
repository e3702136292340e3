"""The integer golden model: the whole fused decoder with the numerics ops only.

This is the specification C-sim and the board must match bit for bit: integers in (uint8 key
frame, FP16 keypoints converted once to Q2.13), integers out (every tensor, the prediction as
uint8 pixels), no floating point on any value, vectorized over batch and pixels.
"""

from __future__ import annotations

import numpy as np

from grace_flow.quant import numerics as nm
from grace_flow.quant.graph import Node
from grace_flow.quant.qgraph import QuantizedGraph


def _conv(node: Node, p: dict, values: dict) -> np.ndarray:
    a = node.attrs
    acc = nm.conv2d_int8(values[node.inputs[0]], p["weight"], p["bias"], a["stride"],
                         a["padding"], a["upsample"])
    if a["residual"]:
        return nm.requantize_residual(acc, values[node.inputs[1]], p["mult_acc"], p["mult_res"],
                                      p["shift"])
    out = nm.requantize(acc, p["mult"], p["shift"], a["relu"])
    return nm.avg_pool2x2(out) if a["pool"] else out


def _grid_sample(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    if grid.ndim == 5:  # one source, M grids: [N, M, C, h, w], the source read once per grid
        # Each output pixel depends on its own grid point only: the M grids stacked as one
        # [N, M·h, w] grid of the one source give the same values.
        batch, motions, height, width = grid.shape[:4]
        out = nm.grid_sample_int8(x, grid.reshape(batch, motions * height, width, 2))
        return np.ascontiguousarray(
            out.reshape(batch, -1, motions, height, width).transpose(0, 2, 1, 3, 4))
    return nm.grid_sample_int8(x, grid)


def _concat(node: Node, values: dict) -> np.ndarray:
    """Channel concatenation; a [K+1, C, h, w] part counts as (K+1)·C channels."""
    parts = [values[name] for name in node.inputs]
    return np.concatenate([p.reshape(p.shape[0], -1, *p.shape[-2:]) for p in parts], axis=1)


def _resize(x: np.ndarray, shape: list[int]) -> np.ndarray:
    if x.dtype == np.int16:  # deformation field [N, H, W, 2]
        return nm.resize_field_bilinear(x, shape[0], shape[1])
    return nm.resize_map_bilinear(x, shape[1], shape[2])


def _run_node(node: Node, p: dict, values: dict, shape: list[int]) -> np.ndarray:
    inputs = [values[name] for name in node.inputs]
    if node.op == "conv":
        return _conv(node, p, values)
    if node.op == "heatmap":  # numerics takes (driving, source); the node lists source first
        return nm.keypoint_heatmaps(p["grid"], inputs[1], inputs[0], p["gauss_table"],
                                    int(p["index_shift"]), p["mult"], p["shift"])
    if node.op == "sparse_motion":
        return nm.sparse_motion(p["grid"], inputs[1], inputs[0])
    if node.op == "grid_sample":
        return _grid_sample(*inputs)
    if node.op == "concat":
        return _concat(node, values)
    if node.op == "softmax":
        return nm.softmax_masks(inputs[0], p["exp_table"])
    if node.op == "deformation":
        return nm.deformation_field(inputs[1], inputs[0])
    if node.op == "table":
        return nm.apply_table(inputs[0], p["table"])
    if node.op == "resize":
        return _resize(inputs[0], shape)
    if node.op == "mul_map":
        return nm.mul_by_map(*inputs)
    if node.op == "affine":
        return nm.channel_affine(inputs[0], p["mult"], p["shift"], p["bias"], node.attrs["relu"])
    raise ValueError(f"golden: unknown op {node.op}")


def run_golden(qgraph: QuantizedGraph, source_u8: np.ndarray, kp_source_fp16: np.ndarray,
               kp_driving_fp16: np.ndarray) -> dict[str, np.ndarray]:
    """Execute ``qgraph`` on uint8 key frames [N, H, W, 3] and FP16 keypoints [N, K, 2].

    Returns every tensor by name (inputs as the engines see them: int8 NCHW source, Q2.13
    keypoints); the prediction is uint8 NCHW pixels.
    """
    source = nm.pixels_to_int8(source_u8, qgraph.params["source.pixel_table"])
    values = {
        "source": np.ascontiguousarray(source.transpose(0, 3, 1, 2)),
        "kp_source": nm.kp_to_fixed(kp_source_fp16),
        "kp_driving": nm.kp_to_fixed(kp_driving_fp16),
    }
    params = qgraph.params_by_node()
    for node in qgraph.nodes:
        values[node.output] = _run_node(node, params.get(node.name, {}), values,
                                        qgraph.shapes[node.output])
    return values

