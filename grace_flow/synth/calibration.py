"""Calibration of the estimate's LUT/FF coefficients on real reports.

Each design is described by what the model sees of an engine: its DSP count and its m_axi
bundles. An m_axi adapter's cost is not fitted: it is the mean of the adapters' own rows in a
public hierarchical utilization report (MAXI_ADAPTER). The remaining line ``c0 + c_dsp × DSP``
is fitted on the fixture csynth reports plus three HLS convolution blocks of that public report
(PUBLIC_BLOCKS, the designs closest in kind to our engines), minimising the relative error
(least squares on value / report), because the designs span 1k to 40k LUTs. The residuals
(docs/estimate.md) are the honest accuracy of the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grace_flow.synth.reports import parse_report

#: LUT and FF of one Vitis HLS m_axi adapter (``gmem<i>_m_axi_U``): the mean of the five adapters
#: (602–1632 LUT, 857–1934 FF) in a public post-synthesis hierarchical utilization breakdown of
#: a Vitis HLS CNN accelerator on xc7z020 (stored public-code index; repository not named there).
#: A Vitis HLS 2021.2 vadd report's 32-bit adapter (580 LUT, 512 FF) is the small end.
MAXI_ADAPTER = {"LUT": 1041, "FF": 1376}
#: HLS convolution blocks of that same breakdown (sub-modules: no m_axi), as calibration rows.
PUBLIC_BLOCKS = [
    {"name": "public conv block", "DSP": 74, "maxi": 0, "LUT": 8739, "FF": 9011},
    {"name": "public downsampling conv", "DSP": 35, "maxi": 0, "LUT": 3871,
     "FF": 4021},
    {"name": "public conv2d+bn", "DSP": 25, "maxi": 0, "LUT": 2578, "FF": 2942},
]
#: Fixture csynth.xml stem -> m_axi bundles of its top (RTL ports' Object names).
FIXTURES = {
    "autoencoder": 2,
    "image_fusion_blendtop": 0,
    "lenet5_z7100": 1,
    "pynqz1_hw_conv": 0,
    "pynqz2_axil_conv2d": 0,
    "rgb2gray_image_filter": 0,
    "sr_fft": 0,
}


def fixture_rows(csynth_dir: str | Path) -> list[dict]:
    """One row per calibration design: name, features (DSP, m_axi) and the reported LUT and FF:
    the fixture csynth reports, then PUBLIC_BLOCKS."""
    rows = []
    for name, maxi in FIXTURES.items():
        used = parse_report(Path(csynth_dir) / f"{name}.csynth.xml")["resources"]
        rows.append({"name": name, "DSP": used["DSP"], "maxi": maxi,
                     "LUT": used["LUT"], "FF": used["FF"]})
    return rows + [dict(row) for row in PUBLIC_BLOCKS]


def fit(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Coefficients c0, c_dsp per resource (LUT, FF) minimising the relative error, with
    c_maxi fixed at MAXI_ADAPTER."""
    features = np.array([[1.0, row["DSP"]] for row in rows])
    result = {}
    for key in ("LUT", "FF"):
        target = np.array([row[key] for row in rows], dtype=float)
        rest = target - MAXI_ADAPTER[key] * np.array([row["maxi"] for row in rows])
        coef, *_ = np.linalg.lstsq(features / target[:, None], rest / target, rcond=None)
        result[key] = {"c0": round(float(coef[0]), 1), "c_dsp": round(float(coef[1]), 1),
                       "c_maxi": MAXI_ADAPTER[key]}
    return result


def residuals(rows: list[dict], coefficients: dict) -> dict[str, dict[str, float]]:
    """Relative error (model − report) / report per fixture and resource."""
    out = {}
    for row in rows:
        out[row["name"]] = {}
        for key in ("LUT", "FF"):
            c = coefficients[key]
            model = c["c0"] + c["c_dsp"] * row["DSP"] + c["c_maxi"] * row["maxi"]
            out[row["name"]][key] = (model - row[key]) / row[key]
    return out
