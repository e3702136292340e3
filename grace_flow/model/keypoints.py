"""Keypoint detector: hourglass → K heatmaps → softmax with temperature → soft-argmax (x, y).

FOMM's KPDetector without the Jacobian head. It runs on the encoder side of the codec; the decoder
only ever receives the ``[N, K, 2]`` keypoints it produces.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from grace_flow.model.blocks import AntiAliasDownsample, Hourglass, coordinate_grid
from grace_flow.model.fomm import load_fomm_part, read_fomm_config
from grace_flow.model.statedict import KP_DETECTOR_HINTS


class KeypointDetector(nn.Module):
    """Maps NCHW images in [0, 1] to ``[N, num_kp, 2]`` keypoints in [-1, 1], (x, y) order."""

    def __init__(
        self,
        num_kp: int,
        num_channels: int,
        block_expansion: int,
        max_features: int,
        num_blocks: int,
        temperature: float,
        scale_factor: float = 1,
        pad: int = 0,
    ):
        super().__init__()
        #: The constructor arguments; rebuilding from them gives the same parameter shapes.
        self.geometry = {
            "num_kp": num_kp, "num_channels": num_channels, "block_expansion": block_expansion,
            "max_features": max_features, "num_blocks": num_blocks, "temperature": temperature,
            "scale_factor": scale_factor, "pad": pad,
        }
        self.predictor = Hourglass(block_expansion, num_channels, num_blocks, max_features)
        # FOMM's pad defaults to 0: the 7x7 head then trims 3 pixels at each border.
        self.kp = nn.Conv2d(self.predictor.out_filters, num_kp, kernel_size=7, padding=pad)
        self.num_kp = num_kp
        self.temperature = temperature
        self.scale_factor = scale_factor
        if scale_factor != 1:
            self.down = AntiAliasDownsample(num_channels, scale_factor)

    def heatmaps(self, image: torch.Tensor) -> torch.Tensor:
        """Return ``[N, K, h, w]`` heatmaps, each a probability distribution over its pixels."""
        if self.scale_factor != 1:
            image = self.down(image)
        logits = self.kp(self.predictor(image))
        flat = F.softmax(logits.flatten(2) / self.temperature, dim=2)
        return flat.view(logits.shape)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Return the keypoints: each heatmap's expected (x, y) position."""
        heatmaps = self.heatmaps(image)
        grid = coordinate_grid(*heatmaps.shape[2:], heatmaps).view(1, 1, *heatmaps.shape[2:], 2)
        return (heatmaps.unsqueeze(-1) * grid).sum(dim=(2, 3))

    @classmethod
    def from_fomm(cls, checkpoint_path: str | os.PathLike,
                  config_path: str | os.PathLike) -> "KeypointDetector":
        """Build from a FOMM YAML config and load the ``kp_detector`` of a FOMM checkpoint.

        Jacobian parameters are ignored; the detector is returned in eval mode.
        """
        _, kwargs = read_fomm_config(config_path)
        return load_fomm_part(cls(**kwargs), checkpoint_path, "kp_detector", KP_DETECTOR_HINTS)
