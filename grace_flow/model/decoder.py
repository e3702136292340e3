"""The AGC decoder: FOMM's occlusion-aware generator with its dense motion network, no Jacobians.

Given the key frame (source) and the keypoints of the source and of the frame to rebuild (driving),
it encodes the source, warps the features by the dense motion, masks them with the occlusion map
and decodes the result. Parameter names equal FOMM's ``generator`` state dict.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from grace_flow.model.blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d, level_width
from grace_flow.model.fomm import load_fomm_part, read_fomm_config
from grace_flow.model.motion import DenseMotionNetwork, warp
from grace_flow.model.statedict import DECODER_HINTS


def resize(image: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """Bilinear resize to ``size`` (h, w) with torch's default align_corners=False, as FOMM does."""
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


class AGCDecoder(nn.Module):
    """Rebuilds a frame from the source image and the source and driving keypoints."""

    def __init__(
        self,
        num_kp: int,
        num_channels: int,
        block_expansion: int,
        max_features: int,
        num_down_blocks: int,
        num_bottleneck_blocks: int,
        estimate_occlusion_map: bool,
        dense_motion_params: dict,
    ):
        super().__init__()
        self.dense_motion_network = DenseMotionNetwork(
            num_kp, num_channels, estimate_occlusion_map, **dense_motion_params
        )
        #: The constructor arguments (motion defaults filled in); rebuilding gives the same shapes.
        self.geometry = {
            "num_kp": num_kp, "num_channels": num_channels, "block_expansion": block_expansion,
            "max_features": max_features, "num_down_blocks": num_down_blocks,
            "num_bottleneck_blocks": num_bottleneck_blocks,
            "estimate_occlusion_map": estimate_occlusion_map,
            "dense_motion_params": {
                "block_expansion": dense_motion_params["block_expansion"],
                "max_features": dense_motion_params["max_features"],
                "num_blocks": dense_motion_params["num_blocks"],
                "scale_factor": self.dense_motion_network.scale_factor,
                "kp_variance": self.dense_motion_network.kp_variance,
            },
        }
        # Registration order is FOMM's, so the state dict lists parameters in the same order.
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=7, padding=3)
        self.down_blocks = nn.ModuleList(
            DownBlock2d(level_width(block_expansion, max_features, i),
                        level_width(block_expansion, max_features, i + 1))
            for i in range(num_down_blocks)
        )
        self.up_blocks = nn.ModuleList(
            UpBlock2d(level_width(block_expansion, max_features, num_down_blocks - i),
                      level_width(block_expansion, max_features, num_down_blocks - i - 1))
            for i in range(num_down_blocks)
        )
        self.bottleneck = nn.Sequential()
        bottleneck_width = level_width(block_expansion, max_features, num_down_blocks)
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_module(f"r{i}", ResBlock2d(bottleneck_width))
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=7, padding=3)
        self.num_kp = num_kp

    def encode(self, source: torch.Tensor) -> torch.Tensor:
        """Return the source's feature map at ``2**num_down_blocks`` times lower resolution."""
        out = self.first(source)
        for block in self.down_blocks:
            out = block(out)
        return out

    @staticmethod
    def deform(image: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
        """Warp ``image`` by ``deformation`` [N,h,w,2], resizing the flow to the image first."""
        if deformation.shape[1:3] != image.shape[2:]:
            flow = resize(deformation.permute(0, 3, 1, 2), image.shape[2:])
            deformation = flow.permute(0, 2, 3, 1)
        return warp(image, deformation)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """Return the frame in [0, 1] rebuilt from warped, occlusion-masked features."""
        out = self.bottleneck(features)
        for block in self.up_blocks:
            out = block(out)
        return torch.sigmoid(self.final(out))

    def forward(self, source: torch.Tensor, kp_source: torch.Tensor,
                kp_driving: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rebuild the driving frame from ``source`` [N,C,H,W] and keypoints [N,K,2].

        Returns ``prediction`` [N,C,H,W], ``mask`` [N,K+1,h,w], ``deformation`` [N,h,w,2],
        ``sparse_deformed`` [N,K+1,C,h,w], ``deformed`` (the source warped at full resolution)
        and, when enabled, ``occlusion_map`` [N,1,h,w]; h, w are the motion resolution.
        """
        features = self.encode(source)
        motion = self.dense_motion_network(source, kp_source, kp_driving)
        features = self.deform(features, motion["deformation"])
        if "occlusion_map" in motion:
            occlusion = motion["occlusion_map"]
            if occlusion.shape[2:] != features.shape[2:]:
                occlusion = resize(occlusion, features.shape[2:])
            features = features * occlusion
        return {
            **motion,
            "deformed": self.deform(source, motion["deformation"]),
            "prediction": self.decode(features),
        }

    @classmethod
    def from_fomm(cls, checkpoint_path: str | os.PathLike,
                  config_path: str | os.PathLike) -> "AGCDecoder":
        """Build from a FOMM YAML config and load the ``generator`` of a FOMM checkpoint.

        Jacobian settings are ignored; the decoder is returned in eval mode.
        """
        kwargs, _ = read_fomm_config(config_path)
        return load_fomm_part(cls(**kwargs), checkpoint_path, "generator", DECODER_HINTS)
