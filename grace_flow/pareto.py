"""The Pareto view of design points: quality vs latency vs energy vs resources.

A point is one variant's result: ``{"name", "status", "reason", "figures": {...}}`` with figures
``psnr_db`` (higher is better), ``latency_ms``, ``uj_per_pixel`` and ``utilization`` (fraction of
each board resource; the largest one counts), each group with a ``*_label`` saying whether it was
measured or modeled and how. A point is *dominated* when another is at least as good on all four
and better on one. This module renders the terminal table, the scatter plot (dominated points
grey) and a self-contained HTML section (plot inlined) that any report page can embed.
"""

from __future__ import annotations

import base64
import html
import io

RESOURCES = ("LUT", "FF", "BRAM18", "DSP")
LABELS = (("PSNR", "quality_label"), ("latency, fps, µJ/px", "performance_label"),
          ("resources", "resources_label"))


def _objectives(point: dict) -> tuple[float, ...] | None:
    """(PSNR, -latency, -energy, -peak utilization): larger is better; None without figures."""
    figures = point.get("figures") or {}
    if point["status"] != "ok" or not all(k in figures for k in
                                          ("psnr_db", "latency_ms", "uj_per_pixel")):
        return None
    peak = max(figures["utilization"].values())
    return (figures["psnr_db"], -figures["latency_ms"], -figures["uj_per_pixel"], -peak)


def front(points: list[dict]) -> set[str]:
    """Names of the points no other point dominates (among those with all four figures)."""
    scored = {p["name"]: s for p in points if (s := _objectives(p)) is not None}

    def dominates(a: tuple, b: tuple) -> bool:
        return all(x >= y for x, y in zip(a, b)) and a != b

    return {name for name, score in scored.items()
            if not any(dominates(other, score) for other in scored.values())}


def _rows(points: list[dict]) -> list[list[str]]:
    """The table's cells per charted point: name, PSNR, latency, fps, µJ/px, resource %."""
    rows = []
    for point in points:
        if _objectives(point) is None:
            continue
        f = point["figures"]
        rows.append([point["name"], f"{f['psnr_db']:.2f}", f"{f['latency_ms']:.3f}",
                     f"{f['fps']:.1f}", f"{f['uj_per_pixel']:.2f}",
                     *(f"{100 * f['utilization'][k]:.1f}" for k in RESOURCES)])
    return rows


HEADINGS = ["variant", "PSNR dB", "latency ms", "fps", "µJ/px", *(f"{k} %" for k in RESOURCES)]


def _labels(points: list[dict]) -> list[tuple[str, str]]:
    """(what, how obtained) for each figure group, every distinct label found."""
    found = []
    for what, key in LABELS:
        seen = sorted({p["figures"][key] for p in points if key in (p.get("figures") or {})})
        found += [(what, label) for label in seen]
    return found


def table(points: list[dict], title: str) -> str:
    """The terminal table: the front marked ``*``, then how each figure was obtained, then
    the failed points with their reasons."""
    on_front, rows = front(points), _rows(points)
    ok = sum(p["status"] == "ok" for p in points)
    lines = [f"{title}: {len(points)} variants, {ok} ok, {len(points) - ok} failed; "
             "* = on the Pareto front (PSNR, latency, energy, peak resource)"]
    cells = [HEADINGS] + rows
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADINGS))]
    for row in cells:
        mark = "*" if row[0] in on_front else " "
        lines.append(f"{mark} " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                            for i, (c, w) in enumerate(zip(row, widths))))
    lines += [f"  {what}: {label}" for what, label in _labels(points)]
    bare = [p["name"] for p in points if p["status"] == "ok" and _objectives(p) is None]
    lines += [f"without all four figures (stopped before synth:system): "
              f"{', '.join(bare)}"] * bool(bare)
    failed = [p for p in points if p["status"] != "ok"]
    lines += ["failed:"] * bool(failed) + [f"  {p['name']}: {p['reason']}" for p in failed]
    return "\n".join(lines) + "\n"


def scatter_png(points: list[dict]) -> bytes:
    """Two panels, PSNR vs latency and peak resource vs energy; dominated points grey."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    on_front = front(points)
    charted = [p for p in points if _objectives(p) is not None]
    # Names without the sweep's name when they all start with it (``<sweep>_...``).
    heads = {p["name"].split("_", 1)[0] for p in charted}
    prefix = f"{heads.pop()}_" if len(heads) == 1 and len(charted) > 1 else ""
    figure = Figure(figsize=(10, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, 2)
    axes = (("latency_ms", "psnr_db", "latency per frame, ms", "PSNR, dB"),
            ("uj_per_pixel", "peak_utilization", "energy, µJ per pixel", "peak resource, %"))
    for ax, (x_key, y_key, x_label, y_label) in zip(panels, axes):
        for dominated in (True, False):
            chosen = [p for p in charted if (p["name"] not in on_front) == dominated]
            xs = [_value(p, x_key) for p in chosen]
            ys = [_value(p, y_key) for p in chosen]
            ax.scatter(xs, ys, s=40, zorder=2 + (not dominated),
                       color="#c8c8c8" if dominated else "#1f77b4",
                       label="dominated" if dominated else "Pareto front")
            for i, (p, x, y) in enumerate(zip(chosen, xs, ys)):
                if not dominated:  # alternately above and below, to keep neighbours apart
                    ax.annotate(p["name"][len(prefix):], (x, y), fontsize=7,
                                xytext=(5, 4 if i % 2 == 0 else -11), textcoords="offset points")
        ax.margins(0.15)  # room for the names
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.grid(True, color="#eeeeee", zorder=0)
    panels[0].legend(loc="best", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _value(point: dict, key: str) -> float:
    figures = point["figures"]
    if key == "peak_utilization":
        return 100 * max(figures["utilization"].values())
    return figures[key]


def section_html(points: list[dict], title: str) -> str:
    """A self-contained ``<section>``: plot (inlined PNG), table (dominated rows grey), how each
    figure was obtained, failures with their reasons."""
    on_front, e = front(points), html.escape
    png = base64.b64encode(scatter_png(points)).decode()
    head = "".join(f"<th>{e(h)}</th>" for h in HEADINGS)
    body = "".join(
        f'<tr class="{"front" if row[0] in on_front else "dominated"}">'
        + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in _rows(points))
    notes = "".join(f"<li>{e(what)}: {e(label)}</li>" for what, label in _labels(points))
    failed = "".join(f"<li><b>{e(p['name'])}</b>: {e(p['reason'])}</li>"
                     for p in points if p["status"] != "ok")
    return (
        '<section class="pareto">\n'
        "<style>.pareto table{border-collapse:collapse;font:13px sans-serif}"
        ".pareto td,.pareto th{padding:2px 8px;text-align:right}"
        ".pareto td:first-child{text-align:left}.pareto tr.dominated{color:#999}"
        ".pareto tr.front{font-weight:bold}</style>\n"
        f"<h2>{e(title)}</h2>\n"
        f'<img alt="Pareto scatter of {e(title)}" src="data:image/png;base64,{png}">\n'
        f"<table><tr>{head}</tr>{body}</table>\n"
        f"<p>Bold: on the Pareto front (PSNR, latency, energy, peak resource); grey: dominated."
        f"</p>\n<ul>{notes}</ul>\n"
        + (f"<h3>Failed</h3>\n<ul>{failed}</ul>\n" if failed else "")
        + "</section>\n")


def page_html(points: list[dict], title: str) -> str:
    """A whole page holding :func:`section_html`."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title></head>\n<body>\n"
            f"{section_html(points, title)}</body></html>\n")

