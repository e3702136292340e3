"""Float execution of a fused graph (torch): proves the fusion exact and feeds calibration."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grace_flow.quant.graph import FusedGraph, Node


def coordinate_grid(height: int, width: int) -> torch.Tensor:
    """FOMM's [H, W, 2] (x, y) grid: corner pixels at exactly ±1."""
    x = 2 * torch.arange(width, dtype=torch.float32) / (width - 1) - 1
    y = 2 * torch.arange(height, dtype=torch.float32) / (height - 1) - 1
    return torch.stack([x.expand(height, width), y[:, None].expand(height, width)], 2)


def _conv(node: Node, graph: FusedGraph, values: dict) -> torch.Tensor:
    a = node.attrs
    x = values[node.inputs[0]]
    if a["upsample"]:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
    weight = torch.from_numpy(graph.params[f"{node.name}.weight"])
    bias = torch.from_numpy(graph.params[f"{node.name}.bias"])
    out = F.conv2d(x, weight, bias, stride=a["stride"], padding=a["padding"])
    if a["residual"]:
        out = out + values[node.inputs[1]]
    if a["relu"]:
        out = F.relu(out)
    if a["pool"]:
        out = F.avg_pool2d(out, 2)
    return out


def _gaussians(kp: torch.Tensor, height: int, width: int, variance: float) -> torch.Tensor:
    offsets = coordinate_grid(height, width)[None, None] - kp[:, :, None, None, :]
    return torch.exp(-0.5 * (offsets**2).sum(-1) / variance)


def _sparse_motion(kp_source, kp_driving, height, width) -> torch.Tensor:
    grid = coordinate_grid(height, width)[None, None]
    shifted = grid - kp_driving[:, :, None, None, :] + kp_source[:, :, None, None, :]
    return torch.cat([grid.expand(kp_source.shape[0], 1, height, width, 2), shifted], 1)


def _grid_sample(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    if grid.dim() == 5:  # one source, K+1 grids: [N, K+1, C, h, w]
        batch, motions = grid.shape[:2]
        repeated = x.unsqueeze(1).expand(batch, motions, *x.shape[1:]).flatten(0, 1)
        out = F.grid_sample(repeated, grid.flatten(0, 1), align_corners=False)
        return out.view(batch, motions, *out.shape[1:])
    return F.grid_sample(x, grid, align_corners=False)


def _concat(node: Node, values: dict) -> torch.Tensor:
    """Channel concatenation; a [K+1, C, h, w] part counts as (K+1)·C channels."""
    parts = [values[name] for name in node.inputs]
    return torch.cat([p.reshape(p.shape[0], -1, *p.shape[-2:]) for p in parts], 1)


def _resize(x: torch.Tensor, shape: list[int]) -> torch.Tensor:
    if x.dim() == 4 and len(shape) == 3 and shape[-1] == 2:  # a flow field [N, H, W, 2]
        out = F.interpolate(x.permute(0, 3, 1, 2), size=shape[:2], mode="bilinear")
        return out.permute(0, 2, 3, 1)
    return F.interpolate(x, size=shape[1:], mode="bilinear")


@torch.no_grad()
def run_float(graph: FusedGraph, source: torch.Tensor, kp_source: torch.Tensor,
              kp_driving: torch.Tensor) -> dict[str, torch.Tensor]:
    """Execute ``graph`` in float32; return every tensor by name (inputs included)."""
    values = {"source": source, "kp_source": kp_source, "kp_driving": kp_driving}
    for node in graph.nodes:
        shape = graph.shapes[node.output]
        inputs = [values[name] for name in node.inputs]
        if node.op == "conv":
            out = _conv(node, graph, values)
        elif node.op == "heatmap":
            gauss = _gaussians(inputs[1], shape[1], shape[2], node.attrs["variance"])
            gauss = gauss - _gaussians(inputs[0], shape[1], shape[2], node.attrs["variance"])
            out = torch.cat([torch.zeros_like(gauss[:, :1]), gauss], 1)
        elif node.op == "sparse_motion":
            out = _sparse_motion(inputs[0], inputs[1], shape[1], shape[2])
        elif node.op == "grid_sample":
            out = _grid_sample(*inputs)
        elif node.op == "concat":
            out = _concat(node, values)
        elif node.op == "softmax":
            out = F.softmax(inputs[0], dim=1)
        elif node.op == "deformation":
            mask, sparse = inputs
            out = (sparse * mask.unsqueeze(-1)).sum(1)
        elif node.op == "table":
            out = torch.sigmoid(inputs[0])
        elif node.op == "resize":
            out = _resize(inputs[0], shape)
        elif node.op == "mul_map":
            out = inputs[0] * inputs[1]
        elif node.op == "affine":
            scale = torch.from_numpy(graph.params[f"{node.name}.scale"])[None, :, None, None]
            shift = torch.from_numpy(graph.params[f"{node.name}.shift"])[None, :, None, None]
            out = inputs[0] * scale + shift
            out = F.relu(out) if node.attrs["relu"] else out
        else:
            raise ValueError(f"unknown op {node.op}")
        values[node.output] = out
    return values
