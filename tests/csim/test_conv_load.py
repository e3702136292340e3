"""conv_load reads each input channel's band as one DDR span, into the same xin as row by row,
in bands of the instruction's own height.

conv_load_probe.cpp wraps GfReader to record opens and word reads, runs conv_load over every
step of an instruction and compares the steps with its own band height and xin with the
row-by-row reference load; the golden cases below run such bands end to end.
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
# The default band (7 rows, tile_rows 2) clamps 7 x 7 to one row and refuses it pooled; "tall"
# (tile_rows 5, no pool) clamps 5 x 5 to 3 rows and stride 2 to 3 or 2; "clamp" (13 rows,
# tile_rows 8: vox-256's kernels and strides) clamps nearly every layer but 3 x 3 stride 1.
SPECS = {"default": default_spec("conv"),
         "tall": {**default_spec("conv"), "tile_rows": 5, "in_block": 8, "features": ["upsample"]},
         "clamp": {**default_spec("conv"), "tile_rows": 8, "kernel_sizes": [1, 3, 5, 7, 13],
                   "strides": [1, 2, 4]}}


def _geometries(spec: dict):
    """(in_c, in_h, in_w, out_c, kernel, stride, pad, upsample, pool, in_off) the engine has
    the kernel, stride and features for, with an output (two rows and columns when pooled)."""
    grid = itertools.product((1, 3, 17), (1, 2, 3, 6, 11), (1, 3, 7, 8, 9, 13, 31, 32, 61, 64),
                             (1, 5, 9), (1, 3, 5, 7, 13), (1, 2, 4), (0, 1, 2, 3, 6), (0, 1),
                             (0, 1), (0, 3, 5))
    for in_c, in_h, in_w, out_c, k, stride, pad, up, pool, off in grid:
        u = 2 if up else 1
        if (k not in spec["kernel_sizes"] or stride not in spec["strides"]
                or (up and "upsample" not in spec["features"])
                or (pool and "pool" not in spec["features"])):
            continue
        if 2 * pad >= k or in_w * u > spec["max_width"]:
            continue
        least = k + pool * stride  # input rows (and columns) for 1 output, 2 when pooled
        if in_h * u + 2 * pad < least or in_w * u + 2 * pad < least:
            continue
        # Thin the grid (it is a product of many axes) but keep every axis value in play.
        if (in_c + in_h + in_w + out_c + k + stride + pad + up + pool + off) % 5:
            continue
        yield in_c, in_h, in_w, out_c, k, stride, pad, up, pool, off


def _probe(tmp_path, spec: dict, geometries: list, mutation: tuple[str, str] | None = None):
    """The probe's result lines for ``geometries``, built against the engine rendered for
    ``spec`` (its conv_engine.h with ``mutation``, (text, replacement), applied)."""
    src = tmp_path / "src"
    render_engine("conv", spec, src)
    if mutation:
        engine = (src / "conv_engine.h").read_text()
        assert engine.count(mutation[0]) == 1, mutation[0]
        (src / "conv_engine.h").write_text(engine.replace(*mutation))
    probe = tmp_path / "probe"
    subprocess.run(["g++", "-O1", "-std=c++17", "-Wall", "-Wextra", "-Werror",
                    "-Wno-unknown-pragmas", "-I", str(src), "-o", str(probe), str(PROBE)],
                   check=True)
    lines = "".join(" ".join(map(str, g)) + "\n" for g in geometries)
    out = subprocess.run([str(probe)], input=lines, capture_output=True, text=True, check=True)
    results = out.stdout.splitlines()
    assert len(results) == len(geometries)
    return results


@pytest.mark.parametrize("name", SPECS)
def test_conv_load_one_burst_per_band(tmp_path, name):
    """The steps are the bands of the instruction's height; one open per channel and step over
    exactly the band's source rows, or one per input block over its whole channels when the
    band needs every source row, each word read once, and xin bit-identical to the row-by-row
    load, on every step of thousands of instructions; a pooled one with no room for a pair of
    rows is refused."""
    spec = SPECS[name]
    geometries = list(_geometries(spec))
    results = _probe(tmp_path, spec, geometries)
    for geometry, result in zip(geometries, results):
        assert result.startswith("ok "), f"{geometry}: {result}"
    ran = [r for r in results if r != "ok refused"]
    steps, opens, words, block_opens = np.array(
        [[int(v) for v in r.split()[1:]] for r in ran]).sum(0)
    assert len(ran) > 4000 and words > opens
    # Both kinds of band occur: whole-image ones (one open per block) and partial ones (one per
    # channel, more opens than steps).
    assert 0 < block_opens < opens and opens - block_opens > steps
    # Pooled, the largest kernel leaves no room for a pair of rows (7 x 7 in 7 rows, 13 x 13
    # in 13); "tall" has no pool.
    assert (len(ran) < len(results)) == ("pool" in spec["features"])


# Each breaks conv_load's input band in a way the probe must see: a row's last take of 8 bytes
# whatever is left of it (the stream slips at a row end that is not a word's), a reader per
# channel for whole-image bands too, a block reader for bands that miss the image's last rows.
MUTATIONS = {
    "take-count": ("(left < 8 ? left : 8)", "8"),
    "reader-per-channel": ("const bool whole = src_rows == static_cast<int>(r.in_h);",
                           "const bool whole = false;"),
    "block-reader-partial": ("const bool whole = src_rows == static_cast<int>(r.in_h);",
                             "const bool whole = src0 == 0;"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_conv_load_probe_sees_mutations(tmp_path, name):
    """Each mutation of the input-band load fails the probe on some instruction."""
    spec = SPECS["tall"]
    geometries = list(_geometries(spec))[::4]
    results = _probe(tmp_path, spec, geometries, MUTATIONS[name])
    assert any(r.startswith("FAIL") for r in results)


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
