"""The Pareto view: who dominates whom, the table, the plot and the HTML section."""

import base64
import re

from grace_flow.pareto import front, page_html, scatter_png, section_html, table

LABELS = {"quality_label": "measured: golden", "performance_label": "modeled: cycles",
          "resources_label": "modeled: estimate"}


def point(name, psnr, latency, energy, lut, dsp=0.1):
    return {"name": name, "status": "ok", "reason": None, "figures": {
        "psnr_db": psnr, "latency_ms": latency, "fps": 1000 / latency, "uj_per_pixel": energy,
        "utilization": {"LUT": lut, "FF": 0.1, "BRAM18": 0.1, "DSP": dsp}, **LABELS}}


POINTS = [
    point("s_a", 30.0, 10.0, 20.0, 0.5),
    point("s_b", 30.0, 12.0, 22.0, 0.5),       # worse than a on latency and energy
    point("s_c", 28.0, 5.0, 30.0, 0.6),        # fastest
    point("s_d", 30.0, 10.0, 20.0, 0.3, 0.5),  # a's twin but DSP is its peak: 0.5 as a's LUT
    {"name": "s_e", "status": "failed", "reason": "s.yaml:9: x: got '<bad>'", "tasks": {}},
    {"name": "s_f", "status": "ok", "reason": None, "figures": {}},
]


def test_front_keeps_every_undominated_point_and_ties():
    assert front(POINTS) == {"s_a", "s_c", "s_d"}
    assert front([point("x", 1, 1, 1, 0.1), point("y", 1, 1, 1, 0.1)]) == {"x", "y"}
    assert front([point("x", 2, 1, 1, 0.1), point("y", 1, 1, 1, 0.1)]) == {"x"}


def test_table_marks_the_front_and_says_how_each_figure_was_obtained():
    assert table(POINTS, "sweep s") == """\
sweep s: 6 variants, 5 ok, 1 failed; * = on the Pareto front (PSNR, latency, energy, peak resource)
  variant  PSNR dB  latency ms    fps  µJ/px  LUT %  FF %  BRAM18 %  DSP %
* s_a        30.00      10.000  100.0  20.00   50.0  10.0      10.0   10.0
  s_b        30.00      12.000   83.3  22.00   50.0  10.0      10.0   10.0
* s_c        28.00       5.000  200.0  30.00   60.0  10.0      10.0   10.0
* s_d        30.00      10.000  100.0  20.00   30.0  10.0      10.0   50.0
  PSNR: measured: golden
  latency, fps, µJ/px: modeled: cycles
  resources: modeled: estimate
without all four figures (stopped before synth:system): s_f
failed:
  s_e: s.yaml:9: x: got '<bad>'
"""


def test_section_is_self_contained_with_dominated_rows_grey():
    html = section_html(POINTS, "sweep s")
    png = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n")
    rows = re.findall(r'<tr class="(\w+)"><td>(\w+)</td>', html)
    assert rows == [("front", "s_a"), ("dominated", "s_b"), ("front", "s_c"), ("front", "s_d")]
    assert "got &#x27;&lt;bad&gt;&#x27;" in html and "<bad>" not in html
    assert 'src="http' not in html and "<script" not in html  # nothing fetched
    assert page_html(POINTS, "sweep s").count("<section") == 1


def test_plot_is_a_png():
    assert scatter_png(POINTS).startswith(b"\x89PNG\r\n\x1a\n")
