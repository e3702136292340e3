"""Dense motion network: keypoints → per-keypoint sparse motions → soft masks → a dense flow.

FOMM's DenseMotionNetwork without Jacobians: the sparse motion of keypoint k maps a driving-frame
position z to ``z + (kp_source_k - kp_driving_k)``; the background motion is the identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from grace_flow.model.blocks import AntiAliasDownsample, Hourglass, coordinate_grid


def keypoint_gaussians(keypoints: torch.Tensor, height: int, width: int, variance: float):
    """Return ``[N, K, height, width]`` Gaussians of the given variance centred on ``[N, K, 2]``."""
    grid = coordinate_grid(height, width, keypoints).view(1, 1, height, width, 2)
    offsets = grid - keypoints.view(*keypoints.shape[:2], 1, 1, 2)
    return torch.exp(-0.5 * (offsets**2).sum(-1) / variance)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Bilinearly sample ``image`` [N,C,H,W] at ``flow`` [N,h,w,2], zero outside (FOMM's call).

    align_corners=False is torch's default, which the FOMM code relied on without naming it.
    """
    return F.grid_sample(image, flow, mode="bilinear", padding_mode="zeros", align_corners=False)


class DenseMotionNetwork(nn.Module):
    """Predicts the dense backward flow (driving → source) and the occlusion map."""

    def __init__(
        self,
        num_kp: int,
        num_channels: int,
        estimate_occlusion_map: bool,
        block_expansion: int,
        max_features: int,
        num_blocks: int,
        scale_factor: float = 1,
        kp_variance: float = 0.01,
    ):
        super().__init__()
        # Each of the K+1 motions contributes its heatmap difference and its warped source image.
        in_features = (num_kp + 1) * (num_channels + 1)
        self.hourglass = Hourglass(block_expansion, in_features, num_blocks, max_features)
        self.mask = nn.Conv2d(self.hourglass.out_filters, num_kp + 1, kernel_size=7, padding=3)
        if estimate_occlusion_map:
            self.occlusion = nn.Conv2d(self.hourglass.out_filters, 1, kernel_size=7, padding=3)
        else:
            self.occlusion = None
        self.num_kp = num_kp
        self.kp_variance = kp_variance
        self.scale_factor = scale_factor
        if scale_factor != 1:
            self.down = AntiAliasDownsample(num_channels, scale_factor)

    def sparse_motions(self, kp_source: torch.Tensor, kp_driving: torch.Tensor, height: int,
                       width: int) -> torch.Tensor:
        """Return ``[N, K+1, h, w, 2]``: the identity (background), then ``z + kp_s - kp_d``."""
        batch = kp_source.shape[0]
        identity = coordinate_grid(height, width, kp_source).view(1, 1, height, width, 2)
        shifted = identity - kp_driving.view(batch, self.num_kp, 1, 1, 2)
        shifted = shifted + kp_source.view(batch, self.num_kp, 1, 1, 2)
        return torch.cat([identity.expand(batch, 1, height, width, 2), shifted], dim=1)

    def forward(self, source: torch.Tensor, kp_source: torch.Tensor,
                kp_driving: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``mask``, ``sparse_deformed``, ``deformation`` and (if enabled) ``occlusion_map``.

        All at the motion resolution, ``scale_factor`` times the source's.
        """
        if self.scale_factor != 1:
            source = self.down(source)
        batch, channels, height, width = source.shape
        motions = self.num_kp + 1

        gaussians = keypoint_gaussians(kp_driving, height, width, self.kp_variance)
        gaussians = gaussians - keypoint_gaussians(kp_source, height, width, self.kp_variance)
        heatmaps = torch.cat([gaussians.new_zeros(batch, 1, height, width), gaussians], dim=1)

        sparse = self.sparse_motions(kp_source, kp_driving, height, width)
        # One grid_sample call over all K+1 motions: the batch is N*(K+1) copies of the source.
        repeated = source.unsqueeze(1).expand(batch, motions, channels, height, width)
        deformed = warp(
            repeated.reshape(batch * motions, channels, height, width),
            sparse.reshape(batch * motions, height, width, 2),
        ).view(batch, motions, channels, height, width)

        features = torch.cat([heatmaps.unsqueeze(2), deformed], dim=2)
        prediction = self.hourglass(features.view(batch, -1, height, width))

        mask = F.softmax(self.mask(prediction), dim=1)
        deformation = (sparse.permute(0, 1, 4, 2, 3) * mask.unsqueeze(2)).sum(dim=1)
        out = {
            "mask": mask,
            "sparse_deformed": deformed,
            "deformation": deformation.permute(0, 2, 3, 1),
        }
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(prediction))
        return out
