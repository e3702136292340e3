"""Requirements and specs: auto growth, fixed-key errors, untouched specs on in-capacity changes."""

import json
import re
from types import SimpleNamespace

import pytest
from decoder_support import GEOMETRY, compile_tiny, tiny_qgraph

from grace_flow.compile.lower import CompileError
from grace_flow.compile.specs import check_bands, resolve_spec
from grace_flow.engines.registers import ENGINES
from grace_flow.engines.program import Instruction
from grace_flow.engines.spec import default_spec


def _spec_files(folder):
    specs = folder / "compile" / "specs"
    return {e: ((specs / f"{e}.json").read_bytes(), (specs / f"{e}.json").stat().st_mtime_ns)
            for e in ENGINES}


def test_requirements_of_the_tiny_decoder(tmp_path):
    summary = compile_tiny(tmp_path, tiny_qgraph())
    req = {e: json.loads((tmp_path / "compile" / "requirements" / f"{e}.json").read_text())
           for e in ENGINES}
    assert req["conv"] == {"features": ["relu", "pool", "upsample", "residual"],
                           "kernel_sizes": [3, 5, 7], "max_in_channels": 64,
                           "max_out_channels": 32, "max_width": 32, "strides": [1, 2]}
    assert req["grid_sample"] == {"max_channels": 32, "max_width": 16}
    assert req["elementwise"] == {"max_channels": 5, "max_width": 16,
                                  "modes": ["affine", "table", "mul_map", "softmax"]}
    assert req["keypoint"] == {"max_kp": 4, "modes": ["heatmap", "sparse", "deform"]}
    assert req["upsample"] == {"max_width": 16, "modes": ["map", "field"]}
    for engine in ENGINES:  # all within the defaults: the specs are the defaults
        spec = (tmp_path / "compile" / "specs" / f"{engine}.json").read_text()
        assert json.loads(spec) == default_spec(engine)
    assert summary["instructions"] == {"conv": 19, "elementwise": 7, "grid_sample": 6,
                                       "keypoint": 3, "upsample": 2}


@pytest.mark.parametrize("changes", [
    {"block_expansion": 4},
    {"num_bottleneck_blocks": 4},
    {"num_kp": 7},
    {"dense_motion_params": {**GEOMETRY["dense_motion_params"], "block_expansion": 16}},
])
def test_in_capacity_changes_leave_every_spec_untouched(tmp_path, changes):
    compile_tiny(tmp_path, tiny_qgraph())
    before = _spec_files(tmp_path)
    program_before = (tmp_path / "compile" / "program.bin").read_bytes()
    compile_tiny(tmp_path, tiny_qgraph(**changes))
    assert _spec_files(tmp_path) == before  # same bytes, same mtime: no engine rebuilds
    assert (tmp_path / "compile" / "program.bin").read_bytes() != program_before


def test_auto_capacity_grows_to_a_power_of_two_only_where_needed(tmp_path):
    compile_tiny(tmp_path, tiny_qgraph())
    before = _spec_files(tmp_path)
    compile_tiny(tmp_path, tiny_qgraph(block_expansion=48, max_features=192))  # 192 channels
    after = _spec_files(tmp_path)
    conv = json.loads(after["conv"][0])
    assert (conv["max_in_channels"], conv["max_out_channels"]) == (256, 256)
    assert json.loads(after["grid_sample"][0])["max_channels"] == 256
    assert {e for e in ENGINES if after[e] != before[e]} == {"conv", "grid_sample"}


def test_auto_lists_take_the_union_and_capacities_respect_fixed_unroll():
    spec = resolve_spec("conv", {"unroll_in": 3}, {"kernel_sizes": [9], "strides": [3],
                                                   "max_in_channels": 130})
    assert spec["kernel_sizes"] == [1, 3, 5, 7, 9] and spec["strides"] == [1, 2, 3]
    assert spec["max_in_channels"] == 258  # 256, raised to a multiple of the fixed unroll_in
    assert resolve_spec("keypoint", {}, {"max_kp": 40})["max_kp"] == 64


@pytest.mark.parametrize("settings, message", [
    ({"conv": {"max_in_channels": 16}},
     "compile: layer dense_motion_network.hourglass.encoder.down_blocks.0 needs 20 input "
     "channels, engines.conv.max_in_channels is 16: raise it or set it to auto"),
    ({"conv": {"kernel_sizes": [3, 5]}},
     "compile: layer first needs kernel size 7, engines.conv.kernel_sizes is "
     "[3, 5]: add it or set it to auto"),
    ({"elementwise": {"modes": ["table", "softmax"]}},
     "compile: layer occluded needs mode mul_map, engines.elementwise.modes is "
     '["table", "softmax"]: add it or set it to auto'),
    ({"keypoint": {"max_kp": 2}},
     "compile: layer dense_motion_network.heatmap needs 4 keypoints, engines.keypoint.max_kp is "
     "2: raise it or set it to auto"),
    ({"conv": {"unroll_in": 3}, "grid_sample": {"max_channels": 30, "unroll_channels": 4}},
     "compile: engines.grid_sample: grid_sample spec: unroll_channels 4 does not divide "
     "max_channels 30"),
])
def test_fixed_keys_that_cannot_serve_are_one_line_errors(tmp_path, settings, message):
    with pytest.raises(CompileError, match=f"^{re.escape(message)}$"):
        compile_tiny(tmp_path, tiny_qgraph(), settings)
    assert not (tmp_path / "compile").exists()


def test_fixed_keys_within_need_are_kept(tmp_path):
    compile_tiny(tmp_path, tiny_qgraph(), {"conv": {"max_in_channels": 64, "unroll_in": 8}})
    conv = json.loads((tmp_path / "compile" / "specs" / "conv.json").read_text())
    assert (conv["max_in_channels"], conv["unroll_in"]) == (64, 8)


def test_a_pooled_layer_the_band_cannot_hold_a_pair_of_is_one_line_error():
    """The default band (7 rows) gives a pooled 7 × 7 layer one row, not a pair."""
    layer = Instruction("conv", "down", dict(in_c=4, in_h=16, in_w=16, out_c=4, kernel=7,
                                             stride=1, pad=3, flags=2))
    program = SimpleNamespace(instructions=[layer])
    with pytest.raises(CompileError, match="^" + re.escape(
            "compile: layer down (kernel 7, stride 1, pooled) needs a conv input band of 8 rows, "
            "engines.conv (tile_rows 2) has 7: raise engines.conv.tile_rows or set it to auto")
            + "$"):
        check_bands(program, default_spec("conv"))
    check_bands(program, default_spec("conv") | {"tile_rows": 6})  # 8 rows: fits
