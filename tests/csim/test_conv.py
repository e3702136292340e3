"""conv engine: C-sim matches conv2d_int8 + requantize / requantize_residual + avg_pool2x2."""

import numpy as np
import pytest
from csim_support import assert_case

from grace_flow.csim import cases, cases_conv
from grace_flow.csim.cases import make_case
from grace_flow.runtime.engines import EngineError
from grace_flow.engines.spec import conv_band_rows, default_spec

CASES = 64
SPEC = default_spec("conv")


def _case(index: int):
    return make_case("conv", SPEC, np.random.default_rng(index), index)


@pytest.mark.parametrize("case", range(CASES))
def test_conv_matches_golden(engine_library, case):
    """Every fused variant, kernel 1/3/5/7, stride 1/2, padding, odd sizes: bit-exact."""
    assert_case(engine_library("conv"), _case(case))


def assert_halves_bit_exact(engine_library, monkeypatch, spec, seed: int, index: int):
    """Case ``index`` made large (2^20 MACs or more, word-aligned output) so that conv_top's
    C-sim entry runs its output-channel halves on two threads, against the golden model."""
    layer = cases_conv._layer

    def large(spec, rng, i):
        return {**layer(spec, rng, i), "in_c": 64, "out_c": 64 + i, "in_h": 32, "in_w": 32}

    monkeypatch.setattr(cases_conv, "_layer", large)
    rng = np.random.default_rng(seed + index)
    draft = cases_conv.conv_case(spec, rng, index)
    draft.outputs = [(register, want, 8) for register, want, _ in draft.outputs]
    assert_case(engine_library("conv", spec), cases._place("conv", index, rng, draft))


@pytest.mark.parametrize("index", range(8))
def test_conv_halves_on_two_threads_are_bit_exact(engine_library, monkeypatch, index):
    """Every kernel × stride, fused ops: the two threads' halves write what one run writes."""
    assert_halves_bit_exact(engine_library, monkeypatch, SPEC, 100, index)


def test_conv_cases_cover_the_grid():
    """Every kernel × stride, and each fused op on and off, occur among the cases."""
    cases = [_case(index) for index in range(CASES)]
    assert {(c.regs["kernel"], c.regs["stride"]) for c in cases} == {
        (k, s) for k in (1, 3, 5, 7) for s in (1, 2)
    }
    for feature in ("upsample", "pool", "residual", "relu"):
        assert {feature in c.tags["features"] for c in cases} == {False, True}, feature
    assert {"saturate" in c.tags["edges"] for c in cases} == {False, True}
    assert any(c.regs["pad"] > 0 for c in cases) and any(c.regs["out_c"] > 8 for c in cases)


def test_conv_saturation_cases_saturate():
    """The saturation cases reach both int8 limits (else they would not test the clamp)."""
    cases = [_case(index) for index in range(CASES)]
    ys = [c.expected["out"][1] for c in cases if "saturate" in c.tags["edges"]]
    assert len(ys) == CASES // 8
    assert min(y.min() for y in ys) == -128 and max(y.max() for y in ys) == 127


@pytest.mark.parametrize(
    "change, status",
    [
        (dict(in_c=129), "SHAPE"),
        (dict(in_w=65), "SHAPE"),
        (dict(kernel=9), "PARAM"),
        (dict(stride=3), "PARAM"),
        (dict(pad=2, kernel=3), "PARAM"),
        (dict(flags=1 << 4), "PARAM"),
        (dict(flags=0b1001), "PARAM"),
        ("end", "BOUNDS"),
        (dict(w_off=(1 << 32) - 1), "BOUNDS"),
    ],
)
def test_conv_refuses_bad_instruction(engine_library, change, status):
    """A register outside the build or an operand beyond DDR is refused, and nothing is written."""
    case = _case(1)
    if change == "end":  # the output starting 10 bytes before the end of the DDR image
        change = dict(out_off=case.ddr.bytes.size - 10)
    regs = {**case.regs, **change}
    before = case.ddr.bytes.copy()
    with pytest.raises(EngineError, match=rf"^conv: status \d {status}: "):
        engine_library("conv").run(case.ddr.bytes, regs)
    assert np.array_equal(case.ddr.bytes, before)


#: Foldings of the MAC array that dsp_pack.h treats differently: one MAC per DSP, packed chains
#: split (unroll_in 8 is two chains of 4, 6 a chain of 4 and one of 2) and an odd last lane;
#: one whose pass's 9 weight words lie in 2 banks, read in 5 cycles (the last reads one); and one
#: whose pass's 15 weight bytes pad to 2 words, in input blocks of 9 (in_block 7 rounded up to
#: whole groups of 3).
FOLDINGS = [dict(macs_per_dsp=1), dict(unroll_in=8, unroll_out=3, max_out_channels=129),
            dict(unroll_in=2, unroll_out=8, max_in_channels=128),
            dict(unroll_in=8, unroll_out=9, max_out_channels=135),
            dict(unroll_in=3, unroll_out=5, in_block=7, max_in_channels=129,
                 max_out_channels=130)]


@pytest.mark.parametrize("folding", FOLDINGS, ids=lambda f: "-".join(map(str, f.values())))
@pytest.mark.parametrize("case", range(0, CASES, 4))
def test_conv_foldings_match_golden(engine_library, folding, case):
    """Packed or not, chains of any length, odd lanes: the same bits as the golden model."""
    spec = {**SPEC, **folding}
    assert_case(engine_library("conv", spec), make_case("conv", spec, np.random.default_rng(case),
                                                        case))


@pytest.mark.parametrize("index", range(4))
def test_conv_halves_of_an_odd_folding_are_bit_exact(engine_library, monkeypatch, index):
    """The second half's weights start after whole output blocks of laid-out weights."""
    assert_halves_bit_exact(engine_library, monkeypatch, {**SPEC, **FOLDINGS[-1]}, 200, index)



#: vox-256's kernels and strides with tile_rows 8: an input band of 13 rows (conv_in_rows), so
#: a band has 8 output rows at 3 x 3 stride 1 and fewer wherever the kernel or stride is larger.
CLAMP_SPEC = {**SPEC, "tile_rows": 8, "kernel_sizes": [1, 3, 5, 7, 13], "strides": [1, 2, 4]}


def _layer(**change) -> dict:
    layer = dict(kernel=3, stride=1, pad=1, upsample=False, pool=False, residual=False,
                 relu=False, in_c=5, out_c=6, in_h=29, in_w=19, saturate=False, bands=True)
    return {**layer, **change}


#: Layers whose band rows the 13-row band clamps below tile_rows 8 (rows in the name), the short
#: last band included; 3 x 3 stride 1 gets all 8.
CLAMPED_LAYERS = {
    "k13-s4-1row": _layer(kernel=13, stride=4, pad=6, in_c=3, out_c=3, in_h=27, in_w=23),
    "k7-7rows": _layer(kernel=7, pad=3, relu=True),
    "k5-s2-5rows": _layer(kernel=5, stride=2, pad=2, in_h=37),
    "k3-s4-3rows": _layer(stride=4, in_h=41, in_w=30),
    "k1-s4-4rows": _layer(kernel=1, stride=4, pad=0, in_h=53),
    "k7-up-7rows": _layer(kernel=7, pad=3, upsample=True, in_h=11, in_w=13),
    "k3-8rows": _layer(in_h=20),
    "pool-k7-6rows": _layer(kernel=7, pad=3, pool=True, relu=True, in_h=31),
    "pool-k5-s2-4rows": _layer(kernel=5, stride=2, pad=1, pool=True, in_h=40),
    "pool-k3-s4-2rows": _layer(stride=4, pool=True, in_h=45, in_w=33),
    "residual-k7-7rows": _layer(kernel=7, pad=3, residual=True, in_h=23),
    "residual-pool-k5-s2-4rows": _layer(kernel=5, stride=2, pad=2, residual=True, pool=True),
    "residual-up-k13-s4-1row": _layer(kernel=13, stride=4, pad=6, residual=True, upsample=True,
                                      in_c=2, out_c=9, in_h=9, in_w=11),
}


@pytest.mark.parametrize("name", CLAMPED_LAYERS)
def test_conv_clamped_bands_match_golden(engine_library, monkeypatch, name):
    """Bands of fewer rows than tile_rows (a large kernel or stride; pooled, rounded down to
    even; with the residual; under upsample): bit-exact against the golden model."""
    layer = CLAMPED_LAYERS[name]
    rows = int(name.rsplit("-", 1)[1].removesuffix("rows").removesuffix("row"))
    assert conv_band_rows(CLAMP_SPEC, layer["kernel"], layer["stride"], layer["pool"]) == rows
    monkeypatch.setattr(cases_conv, "_layer", lambda spec, rng, index: layer)
    case = make_case("conv", CLAMP_SPEC, np.random.default_rng(len(name)), 1)
    assert_case(engine_library("conv", CLAMP_SPEC), case)


@pytest.mark.parametrize("spec, layer", [
    (SPEC, _layer(kernel=7, pad=3, pool=True, in_h=12, in_w=12)),
    (CLAMP_SPEC, _layer(kernel=13, pad=6, pool=True)),
    (CLAMP_SPEC, _layer(kernel=13, stride=4, pad=6, pool=True, in_h=40)),
], ids=["default-k7", "clamp-k13", "clamp-k13-s4"])
def test_conv_refuses_a_pool_pair_the_band_cannot_hold(engine_library, monkeypatch, spec, layer):
    """A pooled layer whose kernel and stride leave the band one row is PARAM, nothing written."""
    assert conv_band_rows(spec, layer["kernel"], layer["stride"], True) == 0
    monkeypatch.setattr(cases_conv, "_layer", lambda spec, rng, index: layer)
    case = make_case("conv", spec, np.random.default_rng(3), 1)
    before = case.ddr.bytes.copy()
    with pytest.raises(EngineError, match=r"^conv: status 2 PARAM: "):
        engine_library("conv", spec).run(case.ddr.bytes, case.regs)
    assert np.array_equal(case.ddr.bytes, before)


#: Layers whose bands need every source row (conv_load reads an input block as one span): tiny
#: images, widths not a multiple of 8, upsample (a source row is 4 bytes per band word), padding
#: rows above and below, several input blocks (in_block 16), several whole bands, and bands that
#: cover the image partly (a mix of both, or none whole). Each entry: the spec, the layer, and
#: how many of its bands are whole and how many partial.
WHOLE_IMAGE_LAYERS = {
    "1x1-k1": (CLAMP_SPEC, _layer(kernel=1, pad=0, in_c=33, in_h=1, in_w=1), 1, 0),
    "1x1-k3-pad": (CLAMP_SPEC, _layer(in_c=20, in_h=1, in_w=1, relu=True), 1, 0),
    "2x2-k3": (CLAMP_SPEC, _layer(in_c=40, out_c=9, in_h=2, in_w=2), 1, 0),
    "3x5-k3": (CLAMP_SPEC, _layer(in_c=17, in_h=3, in_w=5, residual=True), 1, 0),
    "4x4-k3": (CLAMP_SPEC, _layer(in_c=48, out_c=13, in_h=4, in_w=4), 1, 0),
    "4x4-k3-s2": (CLAMP_SPEC, _layer(stride=2, in_c=33, in_h=4, in_w=4), 1, 0),
    "4x4-k3-pool": (CLAMP_SPEC, _layer(in_c=33, in_h=4, in_w=4, pool=True), 1, 0),
    "4x4-k7-pad3": (CLAMP_SPEC, _layer(kernel=7, pad=3, in_c=19, in_h=4, in_w=4), 1, 0),
    "2x61-k3": (CLAMP_SPEC, _layer(in_c=17, in_h=2, in_w=61), 1, 0),
    "up-1x1-k3": (CLAMP_SPEC, _layer(upsample=True, in_c=17, in_h=1, in_w=1), 1, 0),
    "up-2x2-k3": (CLAMP_SPEC, _layer(upsample=True, in_c=33, in_h=2, in_w=2), 1, 0),
    "up-3x5-k3": (CLAMP_SPEC, _layer(upsample=True, in_c=21, in_h=3, in_w=5), 1, 0),
    "up-4x4-k3": (CLAMP_SPEC, _layer(upsample=True, in_c=20, in_h=4, in_w=4, pool=True), 1, 0),
    "up-3x13-k1": (CLAMP_SPEC, _layer(kernel=1, pad=0, upsample=True, in_c=18, in_h=3,
                                      in_w=13), 1, 0),
    # Bands of 1 row (7 x 7 in the default spec's 7-row band), each needing the whole image.
    "3x9-k7-3-bands": (SPEC, _layer(kernel=7, pad=3, in_c=33, in_h=3, in_w=9), 3, 0),
    # The first band reaches the last source row only under upsample (its band row 8 is source
    # row 4's first half); the second starts at source row 3.
    "up-5x13-k3-mixed": (CLAMP_SPEC, _layer(upsample=True, in_c=20, in_h=5, in_w=13), 1, 1),
    "7x11-k7-mixed": (SPEC, _layer(kernel=7, pad=3, in_c=17, in_h=7, in_w=11), 1, 6),
    "4x4-k3-partial": (SPEC, _layer(in_c=33, in_h=4, in_w=4), 0, 2),
    "up-5x4-k3-mixed": (CLAMP_SPEC, _layer(upsample=True, in_c=17, in_h=5, in_w=4,
                                           residual=True), 1, 1),
}


@pytest.mark.parametrize("name", WHOLE_IMAGE_LAYERS)
def test_conv_whole_image_bands_match_golden(engine_library, monkeypatch, name):
    """Bands that read their input block as one span, alone or beside bands that read a span
    per channel: bit-exact against the golden model."""
    spec, layer, whole, partial = WHOLE_IMAGE_LAYERS[name]
    up = int(layer["upsample"])
    k, s, p = layer["kernel"], layer["stride"], layer["pad"]
    ih = layer["in_h"] << up
    out_h = (ih + 2 * p - k) // s + 1
    height = conv_band_rows(spec, k, s, layer["pool"])
    sources = []  # per band, the source rows it needs
    for row0 in range(0, out_h, height):
        rows = min(height, out_h - row0)
        band = range(row0 * s - p, row0 * s - p + (rows - 1) * s + k)
        sources.append({row >> up for row in band if 0 <= row < ih})
    wholes = sum(len(rows) == layer["in_h"] for rows in sources)
    assert (wholes, len(sources) - wholes) == (whole, partial)
    monkeypatch.setattr(cases_conv, "_layer", lambda spec, rng, index: layer)
    case = make_case("conv", spec, np.random.default_rng(len(name)), 1)
    assert_case(engine_library("conv", spec), case)


#: Two output columns requantized per cycle, on a row of odd width (63: the last column pair of
#: a full-width row has one column, past which no accumulator column exists).
REQUANT_SPEC = {**SPEC, "requant_lanes": 2, "max_width": 63}

#: Output widths even and odd (1: a single half pair), each fused op; with pool the odd last
#: column is requantized but not stored.
REQUANT_LAYERS = {
    "odd-w": _layer(in_w=19),
    "even-w": _layer(in_w=24),
    "one-column": _layer(kernel=1, pad=0, in_w=1),
    "full-odd-w": _layer(in_w=63, in_h=9),
    "relu-odd-w": _layer(relu=True, in_w=17),
    "pool-odd-w": _layer(pool=True, relu=True, in_h=12, in_w=21),
    "residual-odd-w": _layer(residual=True, in_w=23),
    "residual-pool-odd-w": _layer(kernel=5, stride=2, pad=2, residual=True, pool=True, in_w=29),
    "up-s2-odd-w": _layer(upsample=True, stride=2, in_w=9),
    "in-blocks-odd-w": _layer(in_c=37, out_c=11, in_w=13),
}


@pytest.mark.parametrize("name", REQUANT_LAYERS)
def test_conv_two_requant_lanes_match_golden(engine_library, monkeypatch, name):
    """requant_lanes 2 (two columns of one output channel per cycle): the same bits as the
    golden model, for odd and even widths and every fused op."""
    layer = REQUANT_LAYERS[name]
    monkeypatch.setattr(cases_conv, "_layer", lambda spec, rng, index: layer)
    case = make_case("conv", REQUANT_SPEC, np.random.default_rng(len(name)), 1)
    assert_case(engine_library("conv", REQUANT_SPEC), case)


@pytest.mark.parametrize("case", range(0, CASES, 4))
def test_conv_two_requant_lanes_grid_matches_golden(engine_library, case):
    """The random grid (kernels, strides, features, widths up to max_width) at requant_lanes 2."""
    spec = {**SPEC, "requant_lanes": 2}
    assert_case(engine_library("conv", spec), make_case("conv", spec, np.random.default_rng(case),
                                                        case))
