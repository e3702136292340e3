"""Fusion: the fused graph computes what the float decoder computes."""

import json

import numpy as np
import pytest
import torch

from grace_flow.model import AGCDecoder
from grace_flow.quant.float_exec import run_float
from grace_flow.quant.fuse import FusionError, fuse
from grace_flow.quant.graph import FusedGraph

GEOMETRY = dict(num_kp=4, num_channels=3, block_expansion=8, max_features=32, num_down_blocks=2,
                num_bottleneck_blocks=2, estimate_occlusion_map=True,
                dense_motion_params=dict(block_expansion=8, max_features=32, num_blocks=3,
                                         scale_factor=0.5, kp_variance=0.01))


def random_decoder(seed=0, **changes):
    torch.manual_seed(seed)
    decoder = AGCDecoder(**{**GEOMETRY, **changes})
    for module in decoder.modules():  # non-trivial BN statistics, or folding is not exercised
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    return decoder.eval()


def random_inputs(batch=2, size=32, kp=4, seed=1):
    generator = torch.Generator().manual_seed(seed)
    source = torch.rand(batch, 3, size, size, generator=generator)
    kp_source = torch.rand(batch, kp, 2, generator=generator) * 2 - 1
    kp_driving = (kp_source + 0.1 * torch.randn(batch, kp, 2, generator=generator)).clamp(-1, 1)
    return source, kp_source, kp_driving


@pytest.mark.parametrize("changes", [{}, {"estimate_occlusion_map": False},
                                     {"num_bottleneck_blocks": 0},
                                     {"dense_motion_params": {**GEOMETRY["dense_motion_params"],
                                                              "scale_factor": 1}}])
def test_fused_graph_equals_model(changes):
    decoder = random_decoder(**changes)
    inputs = random_inputs()
    graph = fuse(decoder, 32)
    expected = decoder(*inputs)
    values = run_float(graph, *inputs)
    for role, tensor in graph.outputs.items():
        assert (values[tensor] - expected[role]).abs().max().item() <= 1e-5, role


def test_fusion_folds_bn_and_fuses_pool_upsample_residual():
    graph = fuse(random_decoder(), 32)
    ops = [n.op for n in graph.nodes]
    assert "affine" in ops and ops.count("concat") == 4  # 3 hourglass skips + motion features
    down = graph.node("down_blocks.0").attrs
    assert (down["relu"], down["pool"], down["upsample"]) == (True, True, False)
    assert graph.node("up_blocks.0").attrs["upsample"] is True
    end = graph.node("bottleneck.r1.conv2")
    assert end.attrs["residual"] == end.inputs[1] == "bottleneck.r0.conv2"
    assert graph.shapes["prediction"] == [3, 32, 32]
    assert not any(name.endswith("running_mean") for name in graph.params)


def test_graph_round_trips_through_json_and_npz(tmp_path):
    graph = fuse(random_decoder(), 32)
    graph.save(tmp_path / "g.json", tmp_path / "g.npz")
    again = FusedGraph.load(tmp_path / "g.json", tmp_path / "g.npz")
    assert json.loads((tmp_path / "g.json").read_text()) == again.to_json()
    assert all(np.array_equal(graph.params[k], again.params[k]) for k in graph.params)
    inputs = random_inputs()
    a, b = run_float(graph, *inputs), run_float(again, *inputs)
    assert torch.equal(a["prediction"], b["prediction"])


def test_unknown_layer_is_a_one_line_error():
    decoder = random_decoder()
    decoder.first.norm = torch.nn.InstanceNorm2d(8)
    with pytest.raises(FusionError, match=r"^fusion: expected an affine BatchNorm2d"):
        fuse(decoder, 32)
