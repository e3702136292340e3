"""Calibration of the estimate's LUT/FF coefficients on the fixture csynth reports.

Each fixture is described by what the model sees of an engine: its DSP count (from the report)
and its m_axi bundles (read off the report's RTL ports). The fit minimises the relative error
(least squares on value / report), because the fixtures span 1k to 40k LUTs. Few fixtures (7),
heterogeneous designs: the residuals (docs/estimate.md) are the honest accuracy of the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grace_flow.synth.reports import parse_report

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
    """One row per fixture: name, features (DSP, m_axi) and the reported LUT and FF."""
    rows = []
    for name, maxi in FIXTURES.items():
        used = parse_report(Path(csynth_dir) / f"{name}.csynth.xml")["resources"]
        rows.append({"name": name, "DSP": used["DSP"], "maxi": maxi,
                     "LUT": used["LUT"], "FF": used["FF"]})
    return rows


def fit(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Coefficients c0, c_dsp, c_maxi per resource (LUT, FF) minimising the relative error."""
    features = np.array([[1.0, row["DSP"], row["maxi"]] for row in rows])
    result = {}
    for key in ("LUT", "FF"):
        target = np.array([row[key] for row in rows], dtype=float)
        coef, *_ = np.linalg.lstsq(features / target[:, None], np.ones(len(rows)), rcond=None)
        result[key] = dict(zip(("c0", "c_dsp", "c_maxi"), (round(float(c), 1) for c in coef)))
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
