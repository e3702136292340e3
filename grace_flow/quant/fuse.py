"""Layer fusion: the float decoder → a :class:`FusedGraph` of engine operations.

* BatchNorm after a convolution folds into its weights and bias; conv + BN + ReLU (+ 2×2 average
  pool on store) is one node; nearest ×2 upsample is fused into the next convolution's load;
* the residual add of a bottleneck block is fused into the convolution that ends the block;
* a pre-activation BN on a residual input cannot fold (the block's skip needs the unnormalised
  tensor), so it becomes an explicit per-channel scale/bias node with ReLU;
* concatenation is addressing only (a ``concat`` node the compiler turns into buffer offsets).
The fused graph computes exactly what the model computes, up to float rounding of the folding.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from grace_flow.errors import FlowError
from grace_flow.quant.graph import FusedGraph, Node


class FusionError(FlowError):
    """A decoder the fusion does not know how to lower."""


def _array(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32)


def _bn_scale_shift(norm: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(norm, nn.BatchNorm2d) or not norm.affine or norm.running_var is None:
        raise FusionError(f"fusion: expected an affine BatchNorm2d with running stats, got {norm}")
    scale = _array(norm.weight) / np.sqrt(_array(norm.running_var) + norm.eps)
    return scale, _array(norm.bias) - _array(norm.running_mean) * scale


class _Builder:
    """Appends nodes while tracking every tensor's shape [C, H, W] (or [K, 2] / [H, W, 2])."""

    def __init__(self, shapes: dict[str, list[int]]):
        self.nodes: list[Node] = []
        self.shapes = dict(shapes)
        self.params: dict[str, np.ndarray] = {}

    def add(self, name: str, op: str, inputs: list[str], shape: list[int], **attrs) -> str:
        if any(n.name == name for n in self.nodes):
            raise FusionError(f"fusion: duplicate node name {name}")
        self.nodes.append(Node(name, op, inputs, name, attrs))
        self.shapes[name] = [int(s) for s in shape]
        return name

    def conv(
        self,
        name: str,
        source: str,
        conv: nn.Conv2d,
        norm: nn.BatchNorm2d | None = None,
        relu: bool = False,
        pool: bool = False,
        upsample: bool = False,
        residual: str | None = None,
    ) -> str:
        """One conv-engine node: conv (+ folded BN, ReLU, pool on store, upsample on load, add)."""
        if (
            conv.groups != 1
            or conv.dilation != (1, 1)
            or conv.kernel_size[0] != conv.kernel_size[1]
        ):
            raise FusionError(
                f"fusion: {name}: only square, dense, undilated convolutions are supported"
            )
        weight = _array(conv.weight)
        bias = _array(conv.bias) if conv.bias is not None else np.zeros(weight.shape[0], np.float32)
        if norm is not None:
            scale, shift = _bn_scale_shift(norm)
            weight = weight * scale[:, None, None, None]
            bias = bias * scale + shift
        kernel, stride, padding = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        return self._conv_node(
            name,
            source,
            weight,
            bias,
            kernel,
            stride,
            padding,
            relu=relu,
            pool=pool,
            upsample=upsample,
            residual=residual,
        )

    def _conv_node(self, name, source, weight, bias, kernel, stride, padding, **fused) -> str:
        channels, height, width = self.shapes[source]
        if weight.shape[1] != channels:
            raise FusionError(
                f"fusion: {name}: weight expects {weight.shape[1]} input channels, "
                f"{source} has {channels}"
            )
        if fused["upsample"]:
            height, width = 2 * height, 2 * width
        height = (height + 2 * padding - kernel) // stride + 1
        width = (width + 2 * padding - kernel) // stride + 1
        if fused["pool"]:
            height, width = height // 2, width // 2
        self.params[f"{name}.weight"] = weight.astype(np.float32)
        self.params[f"{name}.bias"] = bias.astype(np.float32)
        inputs = [source] + ([fused["residual"]] if fused["residual"] else [])
        return self.add(
            name,
            "conv",
            inputs,
            [weight.shape[0], height, width],
            kernel=kernel,
            stride=stride,
            padding=padding,
            **fused,
        )

    def downsample(self, name: str, source: str, module) -> str:
        """FOMM's anti-alias blur + subsample as a strided conv with a block-diagonal kernel."""
        depthwise = _array(module.weight)  # [C, 1, k, k]
        channels, kernel = depthwise.shape[0], depthwise.shape[-1]
        dense = np.zeros((channels, channels, kernel, kernel), np.float32)
        dense[np.arange(channels), np.arange(channels)] = depthwise[:, 0]
        return self._conv_node(
            name,
            source,
            dense,
            np.zeros(channels, np.float32),
            kernel,
            module.stride,
            module.pad,
            relu=False,
            pool=False,
            upsample=False,
            residual=None,
        )

    def hourglass(self, prefix: str, source: str, hourglass) -> str:
        """Encoder down blocks, then up blocks each concatenated with its skip."""
        skips = [source]
        for i, block in enumerate(hourglass.encoder.down_blocks):
            skips.append(
                self.conv(
                    f"{prefix}.encoder.down_blocks.{i}",
                    skips[-1],
                    block.conv,
                    block.norm,
                    relu=True,
                    pool=True,
                )
            )
        out = skips.pop()
        for i, block in enumerate(hourglass.decoder.up_blocks):
            up = self.conv(
                f"{prefix}.decoder.up_blocks.{i}",
                out,
                block.conv,
                block.norm,
                relu=True,
                upsample=True,
            )
            skip = skips.pop()
            channels = self.shapes[up][0] + self.shapes[skip][0]
            out = self.add(
                f"{prefix}.decoder.concat.{i}",
                "concat",
                [up, skip],
                [channels, *self.shapes[up][1:]],
            )
        return out

    def permute_channels(self, tensor: str, order: np.ndarray) -> None:
        """Make every reader of ``tensor`` expect its channels in ``order`` (new c ← old order[c]).

        Convolutions absorb the permutation into their weights; a concat passes it on to its
        readers at the tensor's channel offset. Any other reader cannot absorb it.
        """
        for node in [n for n in self.nodes if tensor in n.inputs]:
            if node.op == "conv" and node.inputs[0] == tensor:
                weight = self.params[f"{node.name}.weight"]
                self.params[f"{node.name}.weight"] = np.ascontiguousarray(weight[:, order])
            elif node.op == "concat":
                offset = sum(self.shapes[t][0] for t in node.inputs[: node.inputs.index(tensor)])
                extended = np.arange(self.shapes[node.output][0])
                extended[offset : offset + len(order)] = offset + order
                self.permute_channels(node.output, extended)
            else:
                raise FusionError(f"fusion: {node.name} cannot read permuted channels of {tensor}")


def fuse(decoder, frame_size: int) -> FusedGraph:
    """Lower an eval-mode :class:`AGCDecoder` at ``frame_size``² to a fused graph."""
    geometry = decoder.geometry
    kp, channels = geometry["num_kp"], geometry["num_channels"]
    motion_net = decoder.dense_motion_network
    b = _Builder(
        {"source": [channels, frame_size, frame_size], "kp_source": [kp, 2], "kp_driving": [kp, 2]}
    )

    # Dense motion network, at its own (usually lower) resolution.
    small = "source"
    if motion_net.scale_factor != 1:
        small = b.downsample("dense_motion_network.down", "source", motion_net.down)
    _, height, width = b.shapes[small]
    heat = b.add(
        "dense_motion_network.heatmap",
        "heatmap",
        ["kp_source", "kp_driving"],
        [kp + 1, height, width],
        variance=motion_net.kp_variance,
    )
    sparse = b.add(
        "dense_motion_network.sparse_motion",
        "sparse_motion",
        ["kp_source", "kp_driving"],
        [kp + 1, height, width, 2],
    )
    warped = b.add(
        "dense_motion_network.sparse_deformed",
        "grid_sample",
        [small, sparse],
        [kp + 1, channels, height, width],
    )
    features = b.add(
        "dense_motion_network.features",
        "concat",
        [heat, warped],
        [(kp + 1) * (channels + 1), height, width],
    )
    hidden = b.hourglass("dense_motion_network.hourglass", features, motion_net.hourglass)
    logits = b.conv("dense_motion_network.mask", hidden, motion_net.mask)
    mask = b.add("dense_motion_network.softmax", "softmax", [logits], b.shapes[logits])
    deformation = b.add(
        "dense_motion_network.deformation", "deformation", [mask, sparse], [height, width, 2]
    )
    outputs = {"mask": mask, "deformation": deformation}
    occlusion = None
    if motion_net.occlusion is not None:
        occ_logits = b.conv("dense_motion_network.occlusion", hidden, motion_net.occlusion)
        occlusion = b.add(
            "dense_motion_network.occlusion_map",
            "table",
            [occ_logits],
            b.shapes[occ_logits],
            function="sigmoid",
        )
        outputs["occlusion_map"] = occlusion
    # FOMM interleaves [heat_k, warped_k] per motion k; we store all heatmaps, then all warped
    # images, so each engine writes one contiguous block, and reorder the readers' weights (all
    # of them exist by now) instead.
    stride = channels + 1
    b.permute_channels(
        features,
        np.array(
            [k * stride for k in range(kp + 1)]
            + [k * stride + 1 + c for k in range(kp + 1) for c in range(channels)]
        ),
    )

    # Generator: encode, warp, mask by occlusion, bottleneck, decode.
    out = b.conv("first", "source", decoder.first.conv, decoder.first.norm, relu=True)
    for i, block in enumerate(decoder.down_blocks):
        out = b.conv(f"down_blocks.{i}", out, block.conv, block.norm, relu=True, pool=True)
    feature_hw = b.shapes[out][1:]
    flow = deformation
    if [height, width] != feature_hw:
        flow = b.add("deformation_resized", "resize", [deformation], [*feature_hw, 2])
    out = b.add("warped", "grid_sample", [out, flow], b.shapes[out])
    if occlusion is not None:
        occ = occlusion
        if [height, width] != feature_hw:
            occ = b.add("occlusion_resized", "resize", [occlusion], [1, *feature_hw])
        out = b.add("occluded", "mul_map", [out, occ], b.shapes[out])
    for i, block in enumerate(decoder.bottleneck):
        name = f"bottleneck.r{i}"
        scale, shift = _bn_scale_shift(block.norm1)
        b.params[f"{name}.norm1.scale"], b.params[f"{name}.norm1.shift"] = scale, shift
        pre = b.add(f"{name}.norm1", "affine", [out], b.shapes[out], relu=True)
        mid = b.conv(f"{name}.conv1", pre, block.conv1, block.norm2, relu=True)
        out = b.conv(f"{name}.conv2", mid, block.conv2, residual=out)
    for i, block in enumerate(decoder.up_blocks):
        out = b.conv(f"up_blocks.{i}", out, block.conv, block.norm, relu=True, upsample=True)
    logits = b.conv("final", out, decoder.final)
    outputs["prediction"] = b.add(
        "prediction", "table", [logits], b.shapes[logits], function="sigmoid"
    )
    return FusedGraph(b.nodes, b.shapes, b.params, ["source", "kp_source", "kp_driving"], outputs)
