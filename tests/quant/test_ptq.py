"""PTQ: weights and biases, shared concat scales, formats, errors, save/load."""

import numpy as np
import pytest

from grace_flow.quant import numerics as nm
from grace_flow.quant.fuse import fuse
from grace_flow.quant.golden import run_golden
from grace_flow.quant.ptq import QuantizationError, quantize_graph, shared_scale_groups
from grace_flow.quant.qgraph import QuantizedGraph
from quant_helpers import SIZE, tiny_quantized
from test_fuse import random_decoder


@pytest.fixture(scope="module")
def tiny():
    return tiny_quantized()


def test_weights_reconstruct_within_half_a_step(tiny):
    graph, qgraph, _, _ = tiny
    convs = [n for n in graph.nodes if n.op == "conv"]
    assert convs
    for node in convs:
        weight = graph.params[f"{node.name}.weight"].astype(np.float64)
        w_q = qgraph.params[f"{node.name}.weight"]
        step = np.asarray(qgraph.weight_scales[node.name])[:, None, None, None]
        assert w_q.dtype == np.int8 and np.abs(w_q).max() == 127  # per-channel max maps to 127
        assert np.all(np.abs(w_q * step - weight) <= step / 2 * (1 + 1e-12)), node.name
        assert np.array_equal(np.abs(w_q).reshape(len(w_q), -1).max(1), np.full(len(w_q), 127))


def test_bias_and_multiplier_encode_the_float_scales(tiny):
    graph, qgraph, _, _ = tiny
    node = "bottleneck.r0.conv1"
    p = qgraph.node_params(node)
    in_scale = qgraph.formats["bottleneck.r0.norm1"]["scale"]
    acc_scale = in_scale * np.asarray(qgraph.weight_scales[node])
    bias = graph.params[f"{node}.bias"]
    assert p["bias"].dtype == np.int32
    assert np.all(np.abs(p["bias"] * acc_scale - bias) <= acc_scale / 2 * (1 + 1e-9))
    real = acc_scale / qgraph.formats[node]["scale"]
    assert np.allclose(p["mult"] * 2.0 ** -p["shift"].astype(float), real, rtol=2**-30)
    residual = qgraph.node_params("bottleneck.r0.conv2")
    assert {"mult_acc", "mult_res", "shift"} <= residual.keys() and "mult" not in residual


def test_concat_inputs_share_the_concat_scale(tiny):
    graph, qgraph, _, _ = tiny
    concats = [n for n in graph.nodes if n.op == "concat"]
    assert len(concats) == 4
    for node in concats:
        scales = {qgraph.formats[name]["scale"] for name in [node.output, *node.inputs]}
        assert len(scales) == 1, node.name
    # The motion features tie heatmap, the warped source, its blur conv and the outer skip.
    groups = shared_scale_groups(graph)
    tied = {name for name, root in groups.items()
            if root == groups["dense_motion_network.features"]}
    assert {"dense_motion_network.heatmap", "dense_motion_network.sparse_deformed",
            "dense_motion_network.down", "dense_motion_network.hourglass.decoder.up_blocks.2",
            "dense_motion_network.hourglass.decoder.concat.2"} <= tied
    assert qgraph.formats["warped"]["scale"] == qgraph.formats["down_blocks.1"]["scale"]


def test_fixed_formats(tiny):
    _, qgraph, _, _ = tiny
    f = qgraph.formats
    assert f["kp_source"] == f["dense_motion_network.deformation"] == {"dtype": "int16",
                                                                       "frac_bits": 13}
    assert f["deformation_resized"] == f["dense_motion_network.sparse_motion"]
    assert f["dense_motion_network.softmax"] == {"dtype": "uint16", "frac_bits": 15}
    assert f["dense_motion_network.occlusion_map"] == f["occlusion_resized"] == {
        "dtype": "uint8", "frac_bits": 8}
    assert f["prediction"] == {"dtype": "uint8", "scale": 1 / 255}
    assert f["source"] == {"dtype": "int8", "scale": 1 / 127}
    table = qgraph.params["source.pixel_table"]
    assert (table[0], table[255]) == (0, 127)


def test_nan_weight_is_a_one_line_error_naming_the_layer(tiny):
    graph, _, _, _ = tiny
    amax = {name: 1.0 for name in graph.shapes if graph.producer(name) is not None}
    broken = fuse(random_decoder(), SIZE)
    broken.params["up_blocks.1.weight"][0, 0, 0, 0] = np.nan
    with pytest.raises(QuantizationError,
                       match=r"^quantize: layer up_blocks\.1: up_blocks\.1\.weight has NaN or "
                             r"infinite values: retrain or re-export the checkpoint$"):
        quantize_graph(broken, amax)


def test_save_load_round_trip(tiny, tmp_path):
    _, qgraph, clips, keypoints = tiny
    qgraph.save(tmp_path / "q.json", tmp_path / "q.npz")
    again = QuantizedGraph.load(tmp_path / "q.json", tmp_path / "q.npz")
    assert again.to_json() == qgraph.to_json()
    assert all(np.array_equal(again.params[k], v) and again.params[k].dtype == v.dtype
               for k, v in qgraph.params.items())
    inputs = clips[:, 0], keypoints[:, 0], keypoints[:, 1]
    assert np.array_equal(run_golden(again, *inputs)["prediction"],
                          run_golden(qgraph, *inputs)["prediction"])
    node = (tmp_path / "q.json").read_text()
    assert '"mult": [' in node and '"weight": {' in node  # multipliers readable, weights by shape


def test_multiplier_fits_the_engine_registers(tiny):
    _, qgraph, _, _ = tiny
    for key, array in qgraph.params.items():
        if key.endswith((".mult", ".mult_acc")):
            assert array.dtype == np.int32 and np.all(np.abs(array) >= 1 << 12), key
        if key.endswith(".shift"):
            assert np.all((array >= nm.MIN_SHIFT) & (array <= nm.MAX_SHIFT)), key
