"""The report's images, each a data: URI (the page loads nothing): matplotlib plots (PNG) and
frame strips (PNG, animated GIF) composed with Pillow."""

from __future__ import annotations

import base64
import io

import numpy as np

#: Frame strips enlarge small frames to at least this many pixels per side (nearest neighbour).
MIN_SIDE = 128
PAPER_UJ_PER_PIXEL = 11.7  # GRACE on PYNQ-Z1 (arXiv 2511.09272)
COLORS = {"target": "#1f77b4", "float": "#ff7f0e", "budget": "#d62728"}


def _uri(data: bytes, kind: str) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> str:
    plt = _plt()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return _uri(buffer.getvalue(), "image/png")


def _enlarge(frames: np.ndarray) -> np.ndarray:
    factor = max(1, -(-MIN_SIDE // frames.shape[-2]))
    return frames.repeat(factor, axis=-3).repeat(factor, axis=-2)


def frame_grid(rows: dict[str, np.ndarray], picks: list[int]) -> str:
    """One PNG: a labelled row per source (original, float, target) of the frames ``picks``."""
    from PIL import Image, ImageDraw, ImageFont

    gap, margin = 4, 70
    tiles = {name: _enlarge(frames[picks]) for name, frames in rows.items()}
    _, height, width, _ = next(iter(tiles.values())).shape
    canvas = np.full(((height + gap) * len(tiles) - gap, margin + (width + gap) * len(picks) - gap,
                      3), 255, np.uint8)
    for r, frames in enumerate(tiles.values()):
        for c, frame in enumerate(frames):
            top, left = r * (height + gap), margin + c * (width + gap)
            canvas[top:top + height, left:left + width] = frame
    image = Image.fromarray(canvas)
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=14)
    for r, name in enumerate(tiles):
        draw.text((4, r * (height + gap) + height // 2), name, fill=(40, 40, 40), font=font,
                  anchor="lm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return _uri(buffer.getvalue(), "image/png")


def animated_strip(rows: dict[str, np.ndarray], fps: float) -> str:
    """An animated GIF of the whole clip, the sources side by side."""
    from PIL import Image

    gap = 4
    clips = [_enlarge(frames) for frames in rows.values()]
    count, height, width, _ = clips[0].shape
    frames = []
    for t in range(count):
        canvas = np.full((height, (width + gap) * len(clips) - gap, 3), 255, np.uint8)
        for i, clip in enumerate(clips):
            canvas[:, i * (width + gap):i * (width + gap) + width] = clip[t]
        frames.append(Image.fromarray(canvas))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                   duration=round(1000 / fps), loop=0)
    return _uri(buffer.getvalue(), "image/gif")


def psnr_plot(clips: list[dict], names: list[str]) -> str:
    """PSNR per frame of the target and the float decoder (key frames marked)."""
    plt = _plt()
    figure, axes = plt.subplots(figsize=(8, 3.2))
    offset = 0
    for clip, name in zip(clips, names):
        frames = np.arange(offset, offset + len(clip["psnr_target"]))
        axes.plot(frames, clip["psnr_float"], color=COLORS["float"], lw=1,
                  label="float decoder" if offset == 0 else None)
        axes.plot(frames, clip["psnr_target"], color=COLORS["target"], lw=1, ls="--",
                  label="on target (int8)" if offset == 0 else None)
        keys = frames[~np.asarray(clip["predicted"])]
        axes.scatter(keys, np.asarray(clip["psnr_target"])[~np.asarray(clip["predicted"])],
                     s=10, color="black", zorder=3, label="key frame" if offset == 0 else None)
        axes.axvline(offset - 0.5, color="0.85", lw=0.8)
        axes.text(offset, axes.get_ylim()[0], f" {name}", fontsize=7, va="bottom")
        offset += len(frames)
    axes.set_xlabel("frame (test clips one after another)")
    axes.set_ylabel("PSNR vs original (dB)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper right")
    return _png(figure)


def resource_plot(used: dict, available: dict, margin: float) -> str:
    """Utilization of each resource against the board, with the budget line."""
    plt = _plt()
    names = list(used)
    share = [100 * used[n] / available[n] for n in names]
    figure, axes = plt.subplots(figsize=(5, 2.6))
    axes.barh(names, share, color=COLORS["target"])
    axes.axvline(100 * (1 - margin), color=COLORS["budget"], ls="--", label="budget")
    for y, (name, value) in enumerate(zip(names, share)):
        axes.text(value + 1, y, f"{used[name]} / {available[name]}", va="center", fontsize=8)
    axes.set_xlim(0, 130)
    axes.set_xlabel("% of the board")
    axes.legend(fontsize=8, loc="lower right")
    return _png(figure)


def latency_plot(engine_seconds: dict[str, float], layers: list[tuple[str, float]]) -> str:
    """Busy time per engine and the slowest layers (modeled), milliseconds per frame."""
    plt = _plt()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2),
                                         gridspec_kw={"width_ratios": [1, 2]})
    left.bar(list(engine_seconds), [1e3 * s for s in engine_seconds.values()],
             color=COLORS["target"])
    left.set_ylabel("ms per frame (modeled)")
    left.tick_params(axis="x", labelrotation=30, labelsize=8)
    names = [name for name, _ in layers][::-1]
    right.barh(names, [1e3 * s for _, s in layers][::-1], color=COLORS["float"])
    right.set_xlabel("ms (modeled, one run of the layer)")
    right.tick_params(axis="y", labelsize=7)
    return _png(figure)


def schedule_plot(instructions: list[dict], clock_mhz: float) -> str:
    """The overlap schedule: when each instruction runs on its engine (modeled)."""
    plt = _plt()
    engines = sorted({ins["engine"] for ins in instructions})
    figure, axes = plt.subplots(figsize=(9, 0.5 * len(engines) + 1.2))
    for ins in instructions:
        row = engines.index(ins["engine"])
        color = COLORS["float"] if ins["phase"] == "key" else COLORS["target"]
        axes.barh(row, (ins["end"] - ins["start"]) / clock_mhz / 1e3, left=ins["start"] /
                  clock_mhz / 1e3, color=color, edgecolor="white", lw=0.3)
    axes.set_yticks(range(len(engines)), engines)
    axes.set_xlabel("ms from the frame's start (modeled; orange: key-frame phase)")
    return _png(figure)


def energy_plot(uj_per_pixel: float, uj_per_pixel_pl: float) -> str:
    """Modeled energy per pixel against the GRACE paper's measured figure."""
    plt = _plt()
    figure, axes = plt.subplots(figsize=(5, 2.2))
    labels = ["modeled (PS + PL)", "modeled (PL only)", "GRACE paper"]
    values = [uj_per_pixel, uj_per_pixel_pl, PAPER_UJ_PER_PIXEL]
    axes.barh(labels, values, color=[COLORS["target"], COLORS["target"], "0.6"])
    for y, value in enumerate(values):
        axes.text(value, y, f" {value:.2f}", va="center", fontsize=8)
    axes.set_xlabel("µJ per reconstructed pixel")
    axes.set_xlim(0, max(values) * 1.3)
    return _png(figure)
