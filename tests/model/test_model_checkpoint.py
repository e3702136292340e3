"""grace_flow's checkpoint format: exact round trip and one-line errors."""

import copy

import pytest
import torch

from grace_flow.model import (AGCDecoder, KeypointDetector, ModelError, load_checkpoint,
                              save_checkpoint)

GEOMETRY = {
    "decoder": dict(
        num_kp=3, num_channels=3, block_expansion=8, max_features=16, num_down_blocks=2,
        num_bottleneck_blocks=2, estimate_occlusion_map=True,
        dense_motion_params=dict(block_expansion=4, max_features=8, num_blocks=2, scale_factor=0.5),
    ),
    "kp_detector": dict(num_kp=3, num_channels=3, block_expansion=4, max_features=8, num_blocks=2,
                        temperature=0.1, scale_factor=0.5),
}


def trained_like_nets():
    """Random weights and non-trivial BatchNorm statistics, as after training."""
    torch.manual_seed(0)
    nets = AGCDecoder(**GEOMETRY["decoder"]), KeypointDetector(**GEOMETRY["kp_detector"])
    for net in nets:
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(11)
    return nets


@pytest.fixture
def saved(tmp_path):
    decoder, detector = trained_like_nets()
    path = save_checkpoint(tmp_path / "decoder.pt", decoder, detector, GEOMETRY)
    return path, decoder.eval(), detector.eval()


def test_round_trip_is_exact(saved):
    path, decoder, detector = saved
    assert [p.name for p in path.parent.iterdir()] == ["decoder.pt"]  # no temporary left over
    loaded_decoder, loaded_detector = load_checkpoint(path, expected_geometry=GEOMETRY)
    assert not loaded_decoder.training and not loaded_detector.training
    for original, loaded in ((decoder, loaded_decoder), (detector, loaded_detector)):
        original_state, loaded_state = original.state_dict(), loaded.state_dict()
        assert list(original_state) == list(loaded_state)
        assert all(torch.equal(original_state[k], loaded_state[k]) for k in original_state)
    source = torch.rand(1, 3, 32, 32)
    kp_source, kp_driving = torch.rand(1, 3, 2), torch.rand(1, 3, 2)
    with torch.no_grad():
        assert torch.equal(decoder(source, kp_source, kp_driving)["prediction"],
                           loaded_decoder(source, kp_source, kp_driving)["prediction"])
        assert torch.equal(detector(source), loaded_detector(source))


def test_stored_geometry_is_complete_and_rebuilds_without_expectation(saved):
    path, decoder, _ = saved
    stored = torch.load(path, weights_only=True)
    assert stored["format"] == "grace_flow-agc" and stored["version"] == 1
    assert stored["geometry"]["decoder"]["dense_motion_params"]["kp_variance"] == 0.01
    assert stored["geometry"]["kp_detector"]["pad"] == 0
    loaded_decoder, _ = load_checkpoint(path)
    assert loaded_decoder.geometry == decoder.geometry


def test_shape_mismatch_names_parameter_and_workflow_key(saved):
    path = saved[0]
    expected = copy.deepcopy(GEOMETRY)
    expected["decoder"]["max_features"] = 8
    with pytest.raises(ModelError) as error:
        load_checkpoint(path, expected_geometry=expected)
    assert str(error.value) == (
        f"{path}: parameter down_blocks.0.conv.weight has shape (16, 8, 3, 3), model expects "
        "(8, 8, 3, 3): set model.generator.max_features to match the checkpoint"
    )


def test_fewer_residual_blocks_in_workflow_is_an_unexpected_parameter(saved):
    path = saved[0]
    expected = copy.deepcopy(GEOMETRY)
    expected["decoder"]["num_bottleneck_blocks"] = 1
    with pytest.raises(ModelError, match=r"parameter bottleneck\.r1\.conv1\.weight is in the "
                       r"checkpoint but not in the model: set model\.generator\."
                       r"num_bottleneck_blocks to match the checkpoint$"):
        load_checkpoint(path, expected_geometry=expected)


def test_same_shapes_but_other_temperature_is_an_error(saved):
    path = saved[0]
    expected = copy.deepcopy(GEOMETRY)
    expected["kp_detector"]["temperature"] = 0.2
    with pytest.raises(ModelError) as error:
        load_checkpoint(path, expected_geometry=expected)
    assert str(error.value) == (f"{path}: checkpoint has model.kp_detector.temperature = 0.1, "
                                "workflow has 0.2: set model.kp_detector.temperature to match "
                                "the checkpoint")


def test_missing_file_and_foreign_files_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match=r"nope\.pt: file not found: set model\.checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelError, match=r"garbage\.pt: not a readable torch checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"generator": {}}, foreign)
    with pytest.raises(ModelError, match=r"foreign\.pt: not a grace_flow-agc checkpoint"):
        load_checkpoint(foreign)


def test_saving_with_a_geometry_that_does_not_describe_the_nets_is_refused(tmp_path):
    decoder, detector = trained_like_nets()
    wrong = copy.deepcopy(GEOMETRY)
    wrong["decoder"]["num_bottleneck_blocks"] = 3
    with pytest.raises(ValueError, match="does not describe"):
        save_checkpoint(tmp_path / "decoder.pt", decoder, detector, wrong)
    assert not any(tmp_path.iterdir())
