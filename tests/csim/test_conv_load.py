"""conv_load reads each input channel's band as one DDR span, into the same xin as row by row.

conv_load_probe.cpp wraps GfReader to record opens and word reads, runs conv_load over every
step of an instruction and compares xin with the row-by-row reference load; the golden cases
below run such bands end to end.
"""

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest
from csim_support import assert_case

from grace_flow.csim import cases_conv
from grace_flow.csim.cases import make_case
from grace_flow.hls.render import render_engine
from grace_flow.engines.spec import default_spec

PROBE = Path(__file__).with_name("conv_load_probe.cpp")
SPECS = {"default": default_spec("conv"),
         "tall": {**default_spec("conv"), "tile_rows": 5, "in_block": 8, "features": ["upsample"]}}


def _geometries(max_width: int):
    """(in_c, in_h, in_w, out_c, kernel, stride, pad, upsample, in_off) the engine accepts."""
    grid = itertools.product((1, 3, 17), (1, 2, 3, 6, 11), (1, 3, 7, 8, 9, 13, 31, 32, 61, 64),
                             (1, 5, 9), (1, 3, 5, 7), (1, 2), (0, 1, 2, 3), (0, 1), (0, 3, 5))
    for in_c, in_h, in_w, out_c, k, stride, pad, up, off in grid:
        u = 2 if up else 1
        if (2 * pad >= k or in_w * u > max_width or in_h * u + 2 * pad < k
                or in_w * u + 2 * pad < k):
            continue
        # Thin the grid (it is a product of many axes) but keep every axis value in play.
        if (in_c + in_h + in_w + out_c + k + stride + pad + up + off) % 3:
            continue
        yield in_c, in_h, in_w, out_c, k, stride, pad, up, off


@pytest.mark.parametrize("name", SPECS)
def test_conv_load_one_burst_per_channel_band(tmp_path, name):
    """One open per channel and step over exactly the band's source rows, each word read once,
    and xin bit-identical to the row-by-row load, on every step of ~11000 instructions."""
    spec = SPECS[name]
    render_engine("conv", spec, tmp_path / "src")
    probe = tmp_path / "probe"
    subprocess.run(["g++", "-O1", "-std=c++17", "-Wall", "-Wextra", "-Werror",
                    "-Wno-unknown-pragmas", "-I", str(tmp_path / "src"), "-o", str(probe),
                    str(PROBE)], check=True)
    geometries = list(_geometries(spec["max_width"]))
    lines = "".join(" ".join(map(str, g)) + "\n" for g in geometries)
    out = subprocess.run([str(probe)], input=lines, capture_output=True, text=True, check=True)
    results = out.stdout.splitlines()
    assert len(results) == len(geometries)
    for geometry, result in zip(geometries, results):
        assert result.startswith("ok "), f"{geometry}: {result}"
    steps, opens, words = np.array([[int(v) for v in r.split()[1:]] for r in results]).sum(0)
    assert len(geometries) > 10000 and opens > steps and words > opens


def _layer(**change) -> dict:
    layer = dict(kernel=3, stride=1, pad=1, upsample=True, pool=False, residual=False,
                 relu=False, in_c=3, out_c=5, in_h=5, in_w=13, saturate=False, bands=False)
    return {**layer, **change}


# Bands the randomized cases may miss: under upsample a band starting at a source row's second
# half (odd first row), a band above and below the image at once, widths not a multiple of 8.
EDGE_LAYERS = {
    "up-odd-start": _layer(),
    "up-stride2-odd-start": _layer(kernel=5, stride=2, pad=1, in_h=7, in_w=5),
    "up-above-and-below": _layer(kernel=7, pad=3, in_h=1, in_w=3, out_c=9),
    "above-and-below": _layer(kernel=7, pad=3, upsample=False, in_h=2, in_w=9),
    "up-blocks-held": _layer(in_c=33, out_c=13, in_h=6, in_w=31, relu=True),
    "up-pool-k1": _layer(kernel=1, pad=0, pool=True, in_h=4, in_w=7),
    "up-widest": _layer(kernel=5, pad=2, stride=2, in_h=9, in_w=32, residual=True),
    "blocks-held": _layer(upsample=False, stride=2, in_h=11, in_w=61, in_c=17),
}


@pytest.mark.parametrize("name", EDGE_LAYERS)
def test_conv_load_edges_match_golden(engine_library, monkeypatch, name):
    """Hand-picked band geometries, end to end: bit-exact against the numpy golden model."""
    monkeypatch.setattr(cases_conv, "_layer", lambda spec, rng, index: EDGE_LAYERS[name])
    spec = default_spec("conv")
    assert_case(engine_library("conv"), make_case("conv", spec, np.random.default_rng(7), 1))
