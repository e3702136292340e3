"""report.html: one self-contained page (every image inline) from report.json and the frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grace_flow.fsutil import atomic_write_text
from grace_flow.templating import strict_environment
from grace_flow.validate import REPORT_TEMPLATE, figures

#: Frames shown per clip in the still grid.
GRID_FRAMES = 6


def _clip_figures(report: dict, frames: dict, index: int) -> dict:
    rows = {"original": frames["original"][index], "float": frames["float"][index],
            "target": frames["target"][index]}
    count = len(rows["target"])
    picks = sorted({int(round(t)) for t in np.linspace(0, count - 1, min(GRID_FRAMES, count))})
    clip = report["quality"]["per_clip"][index]
    return {"name": clip["file"], "picks": picks, "exact": clip["bit_exact"],
            "grid": figures.frame_grid(rows, picks),
            "strip": figures.animated_strip(rows, report["rate"]["fps"])}


def render_report(report: dict, frames: dict, schedule: list[dict], path: Path,
                  clips_shown: int) -> Path:
    """Write the page for ``report`` (report.json's content); ``frames`` holds per clip the
    original, float and displayed target frames, uint8 [T, H, W, 3]; ``schedule`` is compile's
    overlap schedule (schedule.json's instructions)."""
    quality, latency = report["quality"], report["latency"]
    resources = report["resources"]
    shown = range(min(clips_shown, len(frames["target"])))
    page = {
        "clips": [_clip_figures(report, frames, i) for i in shown],
        "psnr": figures.psnr_plot([quality["per_clip"][i] for i in shown],
                                  [quality["per_clip"][i]["file"] for i in shown]),
        "resources": figures.resource_plot(resources["used"], resources["available"],
                                           resources["margin"]),
        "latency": figures.latency_plot(latency["engine_seconds"],
                                        [tuple(layer) for layer in latency["layers"]]),
        "schedule": figures.schedule_plot(schedule, latency["clock_mhz"]),
        "energy": figures.energy_plot(report["energy"]["uj_per_pixel"],
                                      report["energy"]["uj_per_pixel_pl"]),
    }
    html = strict_environment(REPORT_TEMPLATE.parent, html=True).get_template(REPORT_TEMPLATE.name).render(
        report=report, figures=page)
    return atomic_write_text(path, html)
