"""First-order-model compatibility: the fixture holds a FOMM checkpoint and FOMM's own outputs."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from grace_flow.model import AGCDecoder, KeypointDetector, ModelError

FIXTURES = Path(__file__).parent / "fixtures"
CHECKPOINT = FIXTURES / "fomm_tiny.pth.tar"
CONFIG = FIXTURES / "fomm_tiny.yaml"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "fomm_tiny_reference.npz") as arrays:
        return {name: torch.from_numpy(arrays[name]) for name in arrays.files}


@pytest.fixture(scope="module")
def decoder_outputs(reference):
    decoder = AGCDecoder.from_fomm(CHECKPOINT, CONFIG)
    assert not decoder.training
    with torch.no_grad():
        return decoder(reference["source"], reference["kp_source"], reference["kp_driving"])


@pytest.mark.parametrize("name", ["prediction", "mask", "occlusion_map", "deformation",
                                  "sparse_deformed", "deformed"])
def test_decoder_matches_first_order_model(decoder_outputs, reference, name):
    assert decoder_outputs[name].shape == reference[name].shape
    assert (decoder_outputs[name] - reference[name]).abs().max() <= TOLERANCE


def test_keypoint_detector_matches_first_order_model(reference):
    detector = KeypointDetector.from_fomm(CHECKPOINT, CONFIG)
    assert not detector.training
    with torch.no_grad():
        keypoints = detector(reference["source"])
    assert (keypoints - reference["kp_detected"]).abs().max() <= TOLERANCE


def test_reference_is_sensitive_to_weights(reference):
    """Guards the comparison above: a small change to one weight must be visible in every output."""
    decoder = AGCDecoder.from_fomm(CHECKPOINT, CONFIG)
    with torch.no_grad():
        decoder.dense_motion_network.hourglass.encoder.down_blocks[0].conv.weight.mul_(1.05)
        out = decoder(reference["source"], reference["kp_source"], reference["kp_driving"])
    for name in ("prediction", "mask", "occlusion_map", "deformation"):
        assert (out[name] - reference[name]).abs().max() > TOLERANCE, name


def _rewrite_checkpoint(tmp_path, edit):
    checkpoint = torch.load(CHECKPOINT, weights_only=True)
    edit(checkpoint)
    path = tmp_path / "edited.pth.tar"
    torch.save(checkpoint, path)
    return path


def test_jacobian_parameters_are_present_and_ignored():
    checkpoint = torch.load(CHECKPOINT, weights_only=True)
    assert {"jacobian.weight", "jacobian.bias"} <= checkpoint["kp_detector"].keys()
    detector = KeypointDetector.from_fomm(CHECKPOINT, CONFIG)
    assert not any("jacobian" in name for name in detector.state_dict())


def test_missing_parameter_is_an_error(tmp_path):
    path = _rewrite_checkpoint(tmp_path, lambda c: c["kp_detector"].pop("kp.bias"))
    with pytest.raises(ModelError) as error:
        KeypointDetector.from_fomm(path, CONFIG)
    assert str(error.value) == (f"{path}: parameter kp.bias is missing from the checkpoint: "
                                "set model.num_kp to match the checkpoint")


def test_unexpected_parameter_is_an_error(tmp_path):
    def add_residual_block(checkpoint):
        generator = checkpoint["generator"]
        for name in [n for n in generator if n.startswith("bottleneck.r1.")]:
            generator[name.replace("r1", "r2")] = generator[name]

    path = _rewrite_checkpoint(tmp_path, add_residual_block)
    with pytest.raises(ModelError, match=r"parameter bottleneck\.r2\.conv1\.weight is in the "
                       r"checkpoint but not in the model: set model\.generator\."
                       r"num_bottleneck_blocks to match the checkpoint$"):
        AGCDecoder.from_fomm(path, CONFIG)


def test_missing_batchnorm_counter_is_tolerated(tmp_path):
    """Checkpoints written by torch < 0.4.1 (FOMM's own releases) have no num_batches_tracked."""
    def drop_counters(checkpoint):
        for name in [n for n in checkpoint["generator"] if n.endswith("num_batches_tracked")]:
            del checkpoint["generator"][name]

    AGCDecoder.from_fomm(_rewrite_checkpoint(tmp_path, drop_counters), CONFIG)


def _edited_config(tmp_path, section, key, value):
    document = yaml.safe_load(CONFIG.read_text())
    target = document["model_params"]
    for part in section.split("."):
        target = target[part]
    target[key] = value
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_config_with_other_num_kp_names_the_key(tmp_path):
    config = _edited_config(tmp_path, "common_params", "num_kp", 4)
    with pytest.raises(ModelError) as error:
        AGCDecoder.from_fomm(CHECKPOINT, config)
    assert str(error.value) == (
        f"{CHECKPOINT}: parameter dense_motion_network.hourglass.encoder.down_blocks.0.conv.weight"
        " has shape (8, 24, 3, 3), model expects (8, 20, 3, 3): set model.num_kp to match the "
        "checkpoint"
    )


def test_config_with_other_width_names_the_key(tmp_path):
    config = _edited_config(tmp_path, "kp_detector_params", "max_features", 16)
    with pytest.raises(ModelError) as error:
        KeypointDetector.from_fomm(CHECKPOINT, config)
    assert str(error.value) == (
        f"{CHECKPOINT}: parameter predictor.encoder.down_blocks.1.conv.weight has shape "
        "(8, 8, 3, 3), model expects (16, 8, 3, 3): set model.kp_detector.max_features to match "
        "the checkpoint"
    )


def test_config_errors_are_one_line(tmp_path):
    unknown = _edited_config(tmp_path, "generator_params", "use_attention", True)
    with pytest.raises(ModelError, match=r"unknown key model_params\.generator_params\."
                       r"use_attention: remove it"):
        AGCDecoder.from_fomm(CHECKPOINT, unknown)
    missing = tmp_path / "missing.yaml"
    missing.write_text(CONFIG.read_text().replace("    temperature: 0.1\n", ""))
    with pytest.raises(ModelError, match=r"missing key model_params\.kp_detector_params\."
                       r"temperature: add it to the config$"):
        KeypointDetector.from_fomm(CHECKPOINT, missing)
    with pytest.raises(ModelError, match=r"not a first-order-model checkpoint"):
        path = tmp_path / "other.pt"
        torch.save({"state_dict": {}}, path)
        AGCDecoder.from_fomm(path, CONFIG)
