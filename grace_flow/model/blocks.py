"""Convolution blocks, the hourglass and the anti-aliased downsampler shared by both networks.

Module and parameter names follow the first-order-model (FOMM) code, so its checkpoints load by
name: a block's layers are ``conv``/``norm`` (``conv1``/``norm1``/... in residual blocks), an
hourglass holds ``encoder.down_blocks`` and ``decoder.up_blocks``. FOMM's SynchronizedBatchNorm2d
is a plain ``nn.BatchNorm2d`` here: in eval mode they compute the same thing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SameBlock2d(nn.Module):
    """Convolution, batch norm, ReLU at constant resolution."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int, padding: int):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``relu(norm(conv(x)))``."""
        return F.relu(self.norm(self.conv(x)))


class DownBlock2d(SameBlock2d):
    """3×3 convolution, batch norm, ReLU, then 2×2 average pooling (halves the resolution)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features, kernel_size=3, padding=1)
        self.pool = nn.AvgPool2d(kernel_size=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the pooled block output at half resolution."""
        return self.pool(super().forward(x))


class UpBlock2d(SameBlock2d):
    """Nearest-neighbour ×2 upsampling, then 3×3 convolution, batch norm, ReLU."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the block output at twice the resolution."""
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResBlock2d(nn.Module):
    """Pre-activation residual block: (norm, ReLU, 3×3 conv) twice, plus the input."""

    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(features, features, kernel_size=3, padding=1)
        self.norm1 = nn.BatchNorm2d(features, affine=True)
        self.norm2 = nn.BatchNorm2d(features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` plus the two-convolution residual."""
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


def level_width(block_expansion: int, max_features: int, level: int) -> int:
    """Channel count at hourglass/generator ``level``: doubles per level, capped at max_features."""
    return min(max_features, block_expansion * 2**level)


class HourglassEncoder(nn.Module):
    """``num_blocks`` down blocks; returns the input and every block's output (the skips)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock2d(
                in_features if i == 0 else level_width(block_expansion, max_features, i),
                level_width(block_expansion, max_features, i + 1),
            )
            for i in range(num_blocks)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return ``[x, down_1(x), down_2(down_1(x)), ...]``."""
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class HourglassDecoder(nn.Module):
    """``num_blocks`` up blocks, each followed by concatenation with the matching encoder skip."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        blocks = []
        for level in reversed(range(num_blocks)):
            # Every block but the deepest also receives the skip concatenated by the block before.
            widen = 1 if level == num_blocks - 1 else 2
            blocks.append(
                UpBlock2d(
                    widen * level_width(block_expansion, max_features, level + 1),
                    level_width(block_expansion, max_features, level),
                )
            )
        self.up_blocks = nn.ModuleList(blocks)
        self.out_filters = block_expansion + in_features

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        """Decode the encoder outputs (consumed deepest first) to full resolution."""
        skips = list(skips)
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out


class Hourglass(nn.Module):
    """U-Net style encoder/decoder; output has ``block_expansion + in_features`` channels."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.encoder = HourglassEncoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = HourglassDecoder(block_expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the full-resolution feature map."""
        return self.decoder(self.encoder(x))


class AntiAliasDownsample(nn.Module):
    """Gaussian blur then strided subsampling by ``1/scale`` (FOMM's AntiAliasInterpolation2d).

    The kernel is a persistent buffer named ``weight`` because FOMM checkpoints carry it.
    """

    def __init__(self, channels: int, scale: float):
        super().__init__()
        sigma = (1 / scale - 1) / 2
        # Python's round() (half to even) on purpose: it sets the kernel size FOMM files hold.
        kernel_size = 2 * round(sigma * 4) + 1
        self.pad = kernel_size // 2
        self.stride = int(1 / scale)
        self.channels = channels
        positions = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
        gauss = torch.exp(-(positions**2) / (2 * sigma**2))
        kernel = gauss[:, None] * gauss[None, :]
        kernel = kernel / kernel.sum()
        self.register_buffer("weight", kernel.expand(channels, 1, -1, -1).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` blurred and subsampled to about ``scale`` times its size."""
        out = F.pad(x, (self.pad, self.pad, self.pad, self.pad))
        out = F.conv2d(out, self.weight, groups=self.channels)
        return out[:, :, :: self.stride, :: self.stride]


def coordinate_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Return the ``[height, width, 2]`` grid of (x, y) pixel-centre coordinates in [-1, 1].

    Corner pixels sit at exactly ±1 (FOMM's convention), while grid_sample with
    align_corners=False puts ±1 at the outer pixel edges; both are kept as FOMM has them.
    """
    x = 2 * (torch.arange(width, dtype=like.dtype, device=like.device) / (width - 1)) - 1
    y = 2 * (torch.arange(height, dtype=like.dtype, device=like.device) / (height - 1)) - 1
    xx, yy = x.view(1, -1).expand(height, width), y.view(-1, 1).expand(height, width)
    return torch.stack([xx, yy], dim=2)
