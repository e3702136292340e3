"""Image quality metrics every stage reports with: PSNR and SSIM of uint8 frames."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """PSNR in dB of uint8 ``image`` against ``reference`` (capped at 100 dB when identical)."""
    if np.array_equal(reference, image):
        return 100.0
    return float(peak_signal_noise_ratio(reference, image, data_range=255))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """SSIM of two uint8 HxWx3 images."""
    return float(structural_similarity(reference, image, channel_axis=-1, data_range=255))
