"""The quantize stage end to end on a tiny random model and tiny clips."""

import json

import numpy as np
import pytest
import torch

from grace_flow.model import KeypointDetector, save_checkpoint
from grace_flow.quant.calibrate import CalibrationError
from grace_flow.quant.golden import run_golden
from grace_flow.quant.qgraph import QuantizedGraph
from grace_flow.quant.stage import quantize_model
from quant_helpers import SIZE, random_clips
from test_fuse import GEOMETRY, random_decoder

KP_GEOMETRY = dict(num_kp=4, num_channels=3, block_expansion=4, max_features=8, num_blocks=2,
                   temperature=0.1, scale_factor=0.5)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stage")
    torch.manual_seed(0)
    save_checkpoint(folder / "decoder.pt", random_decoder(), KeypointDetector(**KP_GEOMETRY).eval(),
                    {"decoder": GEOMETRY, "kp_detector": KP_GEOMETRY})
    arrays = {}
    for seed, split in enumerate(("train", "calibration", "test")):
        frames, _ = random_clips(clips=2, frames=4, seed=seed)
        arrays[f"{split}_frames"] = frames
        arrays[f"{split}_landmarks"] = np.zeros((2, 4, 10, 2), np.float32)
    np.savez(folder / "clips.npz", **arrays)
    return folder


def run(folder, out, **changes):
    settings = dict(frame_size=SIZE, observer="minmax", percentile=99.99, calibration_pairs=4,
                    accumulator_bits=32, gop=2)
    return quantize_model(folder / "decoder.pt", folder / "clips.npz",
                          out / "quantized_graph.json", out / "quantized_params.npz",
                          out / "quality.json", **{**settings, **changes})


def test_stage_writes_every_output_and_the_graph_runs(inputs, tmp_path):
    quality = run(inputs, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "quality.json", "quantized_graph.json", "quantized_params.npz"]
    assert json.loads((tmp_path / "quality.json").read_text()) == quality
    assert quality["pairs"] == 4 and quality["calibration_pairs"] == 4
    assert quality["int8_vs_float"]["psnr_db"] > 40
    assert [r["layer"] for r in quality["accumulators"]][-1] == "final"
    qgraph = QuantizedGraph.load(tmp_path / "quantized_graph.json",
                                 tmp_path / "quantized_params.npz")
    frames, _ = random_clips(clips=1, frames=2, seed=5)
    keypoints = np.zeros((1, 4, 2), np.float16)
    values = run_golden(qgraph, frames[0, :1], keypoints, keypoints)
    assert values[qgraph.outputs["prediction"]].shape == (1, 3, SIZE, SIZE)


def test_bad_observer_fails_before_writing(inputs, tmp_path):
    with pytest.raises(CalibrationError, match=r"^quantize\.observer: unknown observer 'max'"):
        run(inputs, tmp_path, observer="max")
    assert not any(tmp_path.iterdir())
