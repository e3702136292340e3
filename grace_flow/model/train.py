"""Training the decoder and keypoint detector from scratch on talking-face clips.

Losses (FOMM's, adapted to what this machine has):
* reconstruction: an L1 image pyramid between the predicted and the driving frame. FOMM's
  perceptual pyramid needs VGG-19 weights, which cannot be downloaded here, so the pyramid is on
  pixels;
* equivariance: keypoints of an affinely warped frame, mapped back, equal the frame's keypoints;
* landmark supervision: the synthetic clips know where the face's landmarks are, which makes the
  unsupervised keypoints converge in minutes on a CPU instead of days on a GPU. Video clips have no
  landmarks and train without this term.
Deterministic by seed: same clips and config give the same weights on this torch build.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from grace_flow.model.inference import to_tensor
from grace_flow.progress import progress


def pyramid_l1(prediction: torch.Tensor, target: torch.Tensor, scales: int) -> torch.Tensor:
    """Mean L1 over an image pyramid (full, 1/2, 1/4, ... resolution)."""
    loss = prediction.new_zeros(())
    for level in range(scales):
        if level:
            prediction = F.avg_pool2d(prediction, 2)
            target = F.avg_pool2d(target, 2)
        loss = loss + (prediction - target).abs().mean()
    return loss / scales


def random_affine(batch: int, generator: torch.Generator) -> torch.Tensor:
    """Small random affine maps [B, 2, 3] (rotation ±0.2 rad, scale ±10 %, shift ±0.1)."""
    uniform = lambda scale: (torch.rand(batch, generator=generator) * 2 - 1) * scale  # noqa: E731
    angle, scale, tx, ty = uniform(0.2), 1 + uniform(0.1), uniform(0.1), uniform(0.1)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    return torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)


def equivariance_loss(
    kp_detector, frames: torch.Tensor, keypoints: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """|A(kp(warp_A(frame))) − kp(frame)|: keypoints must move with the image."""
    theta = random_affine(frames.shape[0], generator)
    grid = F.affine_grid(theta, list(frames.shape), align_corners=False)
    warped = F.grid_sample(frames, grid, padding_mode="reflection", align_corners=False)
    warped_kp = kp_detector(warped)
    mapped = warped_kp @ theta[:, :, :2].transpose(1, 2) + theta[:, None, :, 2]
    return (mapped - keypoints).abs().mean()


def train(
    decoder, kp_detector, frames: np.ndarray, landmarks: np.ndarray, settings, max_gap: int
) -> list[dict]:
    """Train both nets in place on clips ``frames`` [N, T, H, W, 3]; return the per-step log.

    ``settings`` is the workflow's ``model.train`` section; ``max_gap`` bounds the distance between
    source and driving frame (the codec's GOP: no frame is further from its key frame).
    """
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    # Channels-last convolutions are about 20 % faster on this CPU backend.
    fast = torch.channels_last
    decoder.train().to(memory_format=fast)
    kp_detector.train().to(memory_format=fast)
    params = list(decoder.parameters()) + list(kp_detector.parameters())
    optimizer = torch.optim.Adam(params, lr=settings.learning_rate, betas=(0.5, 0.999))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.steps, pct_start=0.1
    )
    supervise = min(landmarks.shape[2], kp_detector.num_kp)
    clips, length = frames.shape[:2]
    log, start = [], time.perf_counter()
    for step in progress(range(settings.steps), desc="train", unit="step", mininterval=2.0):
        clip = rng.integers(clips, size=settings.batch_size)
        first = rng.integers(length, size=settings.batch_size)
        gap = rng.integers(-max_gap + 1, max_gap, size=settings.batch_size)
        second = np.clip(first + gap, 0, length - 1)
        source = to_tensor(frames[clip, first]).contiguous(memory_format=fast)
        driving = to_tensor(frames[clip, second]).contiguous(memory_format=fast)
        kp_source, kp_driving = kp_detector(source), kp_detector(driving)
        prediction = decoder(source, kp_source, kp_driving)["prediction"]
        losses = {"reconstruction": pyramid_l1(prediction, driving, settings.pyramid_scales)}
        if settings.equivariance_weight:
            losses["equivariance"] = settings.equivariance_weight * equivariance_loss(
                kp_detector, driving, kp_driving, generator
            )
        if supervise and settings.landmark_weight:
            marks = torch.from_numpy(
                np.concatenate(
                    [landmarks[clip, first, :supervise], landmarks[clip, second, :supervise]]
                )
            )
            found = torch.cat([kp_source, kp_driving])[:, :supervise]
            losses["landmarks"] = settings.landmark_weight * (found - marks).abs().mean()
        total = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        schedule.step()
        log.append(
            {
                "step": step,
                "seconds": round(time.perf_counter() - start, 3),
                "loss": total.item(),
                **{k: v.item() for k, v in losses.items()},
            }
        )
    decoder.eval().to(memory_format=torch.contiguous_format)
    kp_detector.eval().to(memory_format=torch.contiguous_format)
    return log


def plot_losses(log: list[dict], path) -> None:
    """Save the loss curves (one line per term, smoothed) as a PNG at ``path`` atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from grace_flow.fsutil import atomic_write_bytes

    figure, axes = plt.subplots(figsize=(7, 4))
    window = max(1, len(log) // 50)
    for key in [k for k in log[0] if k not in ("step", "seconds")]:
        values = np.convolve([row[key] for row in log], np.ones(window) / window, mode="valid")
        axes.plot(np.arange(len(values)) + window - 1, values, label=key)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_yscale("log")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
