"""Shapes, value ranges and the motion invariants of the decoder and keypoint detector."""

import pytest
import torch

from grace_flow.model import AGCDecoder, KeypointDetector
from grace_flow.model.blocks import AntiAliasDownsample, coordinate_grid

TINY_DECODER = dict(
    num_kp=3, num_channels=3, block_expansion=4, max_features=8, num_down_blocks=2,
    num_bottleneck_blocks=1, estimate_occlusion_map=True,
    dense_motion_params=dict(block_expansion=4, max_features=8, num_blocks=2, scale_factor=0.5),
)
TINY_KP = dict(num_kp=3, num_channels=3, block_expansion=4, max_features=8, num_blocks=2,
               temperature=0.1, scale_factor=0.5)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return AGCDecoder(**TINY_DECODER).eval(), KeypointDetector(**TINY_KP).eval()


def test_output_shapes_and_ranges(nets):
    decoder, detector = nets
    source, driving = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        kp_source, kp_driving = detector(source), detector(driving)
        out = decoder(source, kp_source, kp_driving)
    assert kp_source.shape == (2, 3, 2)
    assert kp_source.abs().max() <= 1
    assert out["prediction"].shape == (2, 3, 32, 32)
    assert 0 < out["prediction"].min() and out["prediction"].max() < 1
    assert out["mask"].shape == (2, 4, 16, 16)
    torch.testing.assert_close(out["mask"].sum(dim=1), torch.ones(2, 16, 16))
    assert out["occlusion_map"].shape == (2, 1, 16, 16)
    assert 0 < out["occlusion_map"].min() and out["occlusion_map"].max() < 1
    assert out["deformation"].shape == (2, 16, 16, 2)
    assert out["sparse_deformed"].shape == (2, 4, 3, 16, 16)
    assert out["deformed"].shape == (2, 3, 32, 32)


def test_still_keypoints_give_the_identity_flow(nets):
    """Every sparse motion is the identity when nothing moves, so any mask mix of them is too."""
    decoder, _ = nets
    keypoints = torch.rand(1, 3, 2) * 2 - 1
    with torch.no_grad():
        out = decoder(torch.rand(1, 3, 32, 32), keypoints, keypoints)
    identity = coordinate_grid(16, 16, keypoints).unsqueeze(0)
    torch.testing.assert_close(out["deformation"], identity, atol=1e-6, rtol=0)


def test_sparse_motion_shifts_by_the_keypoint_offset(nets):
    decoder, _ = nets
    kp_source = torch.tensor([[[0.1, 0.2], [0.0, 0.0], [-0.5, 0.5]]])
    kp_driving = torch.tensor([[[0.3, -0.2], [0.0, 0.0], [-0.5, 0.4]]])
    motions = decoder.dense_motion_network.sparse_motions(kp_source, kp_driving, 8, 8)
    identity = coordinate_grid(8, 8, kp_source)
    assert torch.equal(motions[0, 0], identity)
    torch.testing.assert_close(motions[0, 1] - identity, torch.tensor([-0.2, 0.4]).expand(8, 8, 2))
    torch.testing.assert_close(motions[0, 3] - identity, torch.tensor([0.0, 0.1]).expand(8, 8, 2))


def test_peaked_heatmap_gives_its_pixel_coordinates():
    torch.manual_seed(0)
    detector = KeypointDetector(**{**TINY_KP, "scale_factor": 1, "pad": 3}).eval()
    logits = torch.zeros(1, 3, 9, 9)
    logits[0, 0, 0, 8] = 100.0  # top-right corner: x = +1, y = -1
    logits[0, 1, 4, 4] = 100.0  # centre
    # Replace the head's output with known logits: only the softmax and soft-argmax remain.
    detector.kp.register_forward_hook(lambda module, args, out: logits)
    with torch.no_grad():
        keypoints = detector(torch.rand(1, 3, 8, 8))
    torch.testing.assert_close(keypoints[0, :2], torch.tensor([[1.0, -1.0], [0.0, 0.0]]))
    torch.testing.assert_close(keypoints[0, 2], torch.tensor([0.0, 0.0]), atol=1e-6, rtol=0)


def test_antialias_downsample_keeps_a_constant_image():
    down = AntiAliasDownsample(channels=2, scale=0.25)
    assert down.weight.shape == (2, 1, 13, 13)
    out = down(torch.full((1, 2, 32, 32), 0.7))
    assert out.shape == (1, 2, 8, 8)
    # Away from the zero-padded border the normalised kernel reproduces the constant.
    torch.testing.assert_close(out[:, :, 2:6, 2:6], torch.full((1, 2, 4, 4), 0.7))


def test_without_occlusion_there_is_no_occlusion_map_or_head():
    decoder = AGCDecoder(**{**TINY_DECODER, "estimate_occlusion_map": False}).eval()
    assert not any(name.startswith("dense_motion_network.occlusion") for name in
                   decoder.state_dict())
    with torch.no_grad():
        out = decoder(torch.rand(1, 3, 32, 32), torch.zeros(1, 3, 2), torch.zeros(1, 3, 2))
    assert "occlusion_map" not in out


def test_every_parameter_is_trained():
    torch.manual_seed(0)
    decoder, detector = AGCDecoder(**TINY_DECODER), KeypointDetector(**TINY_KP)
    source, driving = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    out = decoder(source, detector(source), detector(driving))
    (out["prediction"] - driving).abs().mean().backward()
    for name, param in [*decoder.named_parameters(), *detector.named_parameters()]:
        assert param.grad is not None and param.grad.abs().sum() > 0, name
