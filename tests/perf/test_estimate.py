"""The estimate backend: exact figures of the formulas for known specs, the calibration against
the fixture reports, the budget message, and the design-space search."""

from types import SimpleNamespace

import pytest
from repo_paths import VENDOR

from grace_flow.engines.program import Instruction
from grace_flow.engines.spec import (SpecError, conv_band_rows, conv_in_rows, default_spec,
                                     round_to_unroll)
from grace_flow.synth import calibration
from grace_flow.perf.budget import PLATFORM, BudgetError, budget, check_budget
from grace_flow.perf.cycles import instruction_cost
from grace_flow.perf.search import CANDIDATES, SearchError, choose_folding, most_mac_lanes
from grace_flow.perf.estimate import (
    LOGIC_COEFFICIENTS,
    LUTRAM_MAX_BITS,
    bram18_tiles,
    buffers,
    dsp_count,
    engine_resources,
    estimate_engine,
    fabric_logic,
)
from grace_flow.perf.frame import frame_model, schedule
from grace_flow.synth.reports import parse_report

ENGINES = ("conv", "grid_sample", "upsample", "elementwise", "keypoint")
#: Largest |relative error| of the LUT/FF fit over the fixtures (docs/estimate.md).
STATED_RESIDUAL = 0.98


def conv(node, in_c, size, out_c, flags=1, deps=()):
    return Instruction("conv", node, dict(in_c=in_c, in_h=size, in_w=size, out_c=out_c,
                                          kernel=3, stride=1, pad=1, flags=flags), list(deps))


def test_default_conv_resources_are_the_formulas():
    # BRAM18 (in_block 16, 64-bit rows of 8 words): xin 8 banks × 224 words (4 channels × 7
    # rows: max(kernel 7, tile_rows 2 + 2)) × 64 b → 2 tiles each; res 2 banks × 64 words ×
    # 64 b → 2 each; out 4 banks × 32 × 64 b → 2 each; acc 4 banks × 128 × 32 b → 1 each; w 2 × 1 bank holding both words of a pass's 16 weight
    # bytes, 49 taps × 4 groups × 2 = 392 words × 64 b → 2 each.
    # DSP: 16 MAC lanes + one requant lane (4 + 2) + 12 index products.
    # LUT: 901.6 + 98.3 × 22 + 1041 (m_axi) + 405; FF: 373.3 + 115.3 × 22 + 1376 (m_axi) + 832
    # parameter register bits + 387: the fabric products (two 15 × 7 of a band's first row,
    # one 5 × 15 of an input block's span rows).
    assert engine_resources("conv", default_spec("conv") | {"macs_per_dsp": 1}) == {
        "LUT": 4105 + 405, "FF": 5118 + 387, "BRAM18": 36, "DSP": 34}
    # Packed (the default): 16 lanes on 4 × 2 DSPs, datapath 8 + 6; LUT 901.6 + 98.3 × 14 +
    # 1041 + 8 packed DSPs × 16 + 2 lane pairs × 1 chain × 31 + 405; FF 373.3 + 115.3 × 14 +
    # 1376 + 832 + 8 × 8 + 2 × 32 + 387.
    assert engine_resources("conv", default_spec("conv")) == {
        "LUT": 3509 + 405, "FF": 4324 + 387, "BRAM18": 36, "DSP": 26}


#: The vox-256 engine of issue 13: 9 × 16 lanes, input blocks of 18, kernels up to 13 × 13.
VOX256_CONV = default_spec("conv") | {
    "unroll_in": 9, "unroll_out": 16, "in_block": 16, "max_in_channels": 2052,
    "max_out_channels": 2048, "max_width": 256, "kernel_sizes": [1, 3, 7, 13], "tile_rows": 4}


def test_vox256_weight_buffer_is_a_few_wide_bram_banks():
    """A pass's 144 weight bytes are 18 words: 2 × 18 banks of 169 taps × 2 groups × 64 bits,
    2 BRAM18 each (512 × 36 twice wide), and no LUTRAM (before: 2304 LUTRAM banks)."""
    w = next(b for b in buffers("conv", VOX256_CONV) if b["name"] == "w")
    assert (w["words"], w["bits"], w["banks"]) == (338, 64, 36)
    assert bram18_tiles(w["words"], w["bits"]) == 2
    # The engine's LUT is the logic alone: LUTRAM only from the banks of at most 1 Kbit.
    lutram = sum(b["words"] * b["bits"] <= LUTRAM_MAX_BITS for b in buffers("conv", VOX256_CONV)
                 if not b["registers"])
    assert lutram == 0


@pytest.mark.parametrize("unroll_in, unroll_out, max_k, banks, reads",
                         [(4, 4, 7, 1, 2), (9, 16, 13, 18, 1), (16, 9, 13, 6, 3),
                          (16, 14, 13, 10, 3), (3, 5, 3, 1, 2), (1, 1, 1, 1, 1)])
def test_weight_buffer_bram_is_two_copies_of_its_banks(unroll_in, unroll_out, max_k, banks,
                                                       reads):
    """A pass's ⌈unroll_in · unroll_out / 8⌉ weight words lie in as few banks as keep a bank
    within 512 words (one pair of BRAM18), read in ⌈words / banks⌉ cycles; the buffer's BRAM18
    is 2 copies × banks × the tiles of one bank of max_k² × (in_block / unroll_in) × reads
    64-bit words (0 when a bank fits LUTRAM)."""
    spec = default_spec("conv") | {"unroll_in": unroll_in, "unroll_out": unroll_out,
                                   "max_in_channels": 144, "max_out_channels": 16 * unroll_out,
                                   "kernel_sizes": [max_k]}
    block = -(-spec["in_block"] // unroll_in) * unroll_in
    entries = max_k * max_k * block // unroll_in
    entry_words = -(-unroll_in * unroll_out // 8)
    assert banks == -(-entry_words // reads) and reads == -(-entry_words // banks)
    assert entries * reads <= 512 or reads == 1
    found = buffers("conv", spec)
    w = next(b for b in found if b["name"] == "w")
    assert (w["words"], w["bits"], w["banks"]) == (entries * reads, 64, 2 * banks)
    others = sum(bram18_tiles(b["words"], b["bits"]) * b["banks"] for b in found
                 if b["name"] != "w" and not b["registers"])
    assert engine_resources("conv", spec)["BRAM18"] - others == (
        2 * banks * bram18_tiles(w["words"], 64))


@pytest.mark.parametrize("unroll_in, unroll_out", [(4, 4), (16, 7), (8, 14), (1, 1)])
def test_estimate_counts_one_dsp_per_two_lanes_only_when_packed(unroll_in, unroll_out):
    """MAC DSPs: one per lane unpacked; packed, one per lane pair (an odd last lane alone)."""
    base = default_spec("conv") | {"unroll_in": unroll_in, "unroll_out": unroll_out,
                                   "max_in_channels": 16 * 7, "max_out_channels": 16 * 7}
    off_array = 4 + 2 + 12  # requant lane (residual) and index products
    unpacked = engine_resources("conv", base | {"macs_per_dsp": 1})["DSP"]
    packed = engine_resources("conv", base | {"macs_per_dsp": 2})["DSP"]
    assert unpacked - off_array == unroll_in * unroll_out
    assert packed - off_array == unroll_in * (unroll_out // 2 + unroll_out % 2)


def test_off_array_dsps_are_what_the_kernels_multiply():
    """No index product is left in grid_sample, upsample, elementwise or keypoint: grid_sample
    has a DSP per lane (fy) and one multiplier shared outside the lanes, upsample one per
    component, elementwise one shared by its modes (the widest, softmax's 3), keypoint the
    heatmap's 6 (the deformation's 2 reuse two of them)."""
    assert {e: dsp_count(e, default_spec(e)) for e in ENGINES[1:]} == {
        "grid_sample": {"mac": 4, "shared": 1, "index": 0},
        "upsample": {"mac": 2, "index": 0},
        "elementwise": {"shared": 3, "index": 0},
        "keypoint": {"mac": 6, "index": 0},
    }
    assert dsp_count("upsample", default_spec("upsample") | {"modes": ["map"]})["mac"] == 1
    assert dsp_count("elementwise", default_spec("elementwise") | {"modes": ["table", "mul_map"]}
                     ) == {"shared": 1, "index": 0}
    assert dsp_count("keypoint", default_spec("keypoint") | {"modes": ["sparse", "deform"]}
                     ) == {"mac": 2, "index": 0}


def test_a_fabric_product_costs_luts_not_dsps():
    # grid_sample with 2 lanes: DSP 2 (fy) + 1 shared; four 11 × 9 fabric products, 396 bits at
    # DS255's 115 LUT / 110 FF per 81: 562 LUT, 538 FF beside the fit's 901.6 + 98.3 × 3 + 1041
    # LUT and 373.3 + 115.3 × 3 + 1376 FF (the band is BRAM).
    spec = default_spec("grid_sample") | {"unroll_channels": 2}
    assert fabric_logic("grid_sample", spec) == {"LUT": 562, "FF": 538}
    assert engine_resources("grid_sample", spec) == {"LUT": 2238 + 562, "FF": 2095 + 538,
                                                     "BRAM18": 32, "DSP": 3}
    # A map-only upsample: one DSP (fy), two 8 × 17 fabric products (386 LUT, 369 FF).
    assert engine_resources("upsample", default_spec("upsample") | {"modes": ["map"]}) == {
        "LUT": round(901.6 + 98.3 + 1041) + 386, "FF": round(373.3 + 115.3 + 1376) + 369,
        "BRAM18": 2, "DSP": 1}
    # conv: band × rows twice (conv_load, conv_store), 15 × 7 bits, and channels × source rows
    # (conv_load, in_block 16: 5 × 15 bits): 285 bits → 405 LUT, 387 FF.
    assert fabric_logic("conv", default_spec("conv")) == {"LUT": 405, "FF": 387}


def test_bram_aspect_ratios_match_a_fixture_memory():
    # pynqz1_hw_conv_csynth.rpt: two 509 × 8 line buffers, 1 BRAM_18K each.
    assert bram18_tiles(509, 8) == 1
    assert bram18_tiles(128, 8) == 0  # 1 Kbit: LUTRAM
    assert bram18_tiles(1024, 36) == 2  # 512×36 twice deep, or 1024×18 twice wide


def test_conv_and_grid_sample_cycles_are_the_formulas(board):
    spec = default_spec("conv")
    cost = instruction_cost(conv("c", 8, 8, 8), spec, board, 100)
    # conv_run's steps (one input block of 8 channels): 4 bands × 2 output blocks of 4; per
    # step max(load, compute, store) + 4 with compute 9 taps × 2 groups × (2 weight reads + 16
    # pixels + 6) + the requant 4 × 2 rows × (8 + 8) = 560 (the load, 8 channels × (25 + 2 + 4
    # band words) + weights 25 + 2 + 9 taps × 2 groups × 2 words + bias and requant
    # 2 × (25 + 4) = 369, is hidden); then fill (8 channels × 31) and drain (4 × (25 + 2 + 2)), + 50 overhead.
    assert (cost.cycles, cost.ddr_bytes, cost.macs) == (4926, 5152, 36864)
    grid = Instruction("grid_sample", "g", dict(channels=8, in_h=8, in_w=8, out_h=8, out_w=8))
    cost = instruction_cost(grid, default_spec("grid_sample"), board, 100)
    # band load 25 + 512, 8 rows × (8 pixels × (25 + 14 + 2 groups × 16) + 25), + 50, + the
    # checks' 4 shift-and-add products × 32.
    assert (cost.cycles, cost.ddr_bytes) == (5459, 1280)


def test_a_whole_image_band_loads_its_input_block_as_one_burst(board):
    """A band that needs every source row pays one DDR latency per input block, one that
    misses some one per channel (conv_load)."""
    spec = default_spec("conv")

    def cycles(in_h):
        layer = dict(in_c=16, in_h=in_h, in_w=1, out_c=4, kernel=1, stride=1, pad=0, flags=0)
        return instruction_cost(Instruction("conv", "c", layer), spec, board, 100).cycles

    # 1 × 1, one step: band 25 + 2 + 16 channels × 1 word, weights 25 + 2 + 4 groups × 2 words,
    # bias 25 + 4, requant 25 + 4 = 136 (compute 4 × (2 + 1 + 6) + 4 × (1 + 8) = 72) + 4; fill
    # 25 + 2 + 16, drain 4 × (25 + 2 + 2 rows × 1 word), + 50 overhead.
    assert cycles(1) == 140 + 43 + 116 + 50
    # 3 × 1 in bands of 2 rows and 1, neither whole: band 16 × (25 + 2 + 2), then 16 × (25 + 2
    # + 1), each + 93 + 4; fill 16 × (25 + 2 + 2).
    assert cycles(3) == 561 + 545 + 464 + 116 + 50


def test_two_requant_lanes_halve_the_requant_columns_and_double_its_dsps(board):
    """requant_lanes 2: a row's requantization takes ⌈out_w / 2⌉ cycles (+ its 8-cycle fill),
    on twice the requant DSPs; acc's banks split in two by column."""
    one = default_spec("conv")
    two = one | {"requant_lanes": 2}
    # The 8 × 8 layer of the formulas above: 8 steps (4 bands × 2 output blocks), each a tile's
    # last, compute-bound at either count (560 and 528 cycles against a 369-cycle load); each
    # requantizes 4 channels × 2 rows of 8 columns in 4 cycles a row instead of 8.
    saved = (instruction_cost(conv("c", 8, 8, 8), one, board, 100).cycles
             - instruction_cost(conv("c", 8, 8, 8), two, board, 100).cycles)
    assert saved == 8 * 4 * 2 * (8 - 4)
    # 9 wide (odd): 9 columns in 5 cycles a row, saved on the 4 compute-bound bands of 2 rows
    # (the last band's 1 row waits for its load, 385 cycles, either way: 374 or 358 of compute).
    saved = (instruction_cost(conv("c", 8, 9, 8), one, board, 100).cycles
             - instruction_cost(conv("c", 8, 9, 8), two, board, 100).cycles)
    assert saved == 2 * 4 * 4 * 2 * (9 - 5)
    # A lane's 4 DSPs (acc × mult) and 2 (residual × rmult), twice.
    assert dsp_count("conv", one)["requant"] == 6 and dsp_count("conv", two)["requant"] == 12
    relu_only = {"features": ["relu"]}
    assert dsp_count("conv", two | relu_only)["requant"] == 2 * dsp_count(
        "conv", one | relu_only)["requant"] == 8
    assert engine_resources("conv", two)["DSP"] - engine_resources("conv", one)["DSP"] == 6
    # acc: 4 lanes × 2 tile rows × 64 columns, 1 BRAM18 a bank either way: 4 banks of 128 words
    # become 8 of 64 (2 Kbit, still above LUTRAM). At vox-256's depth (256 columns × 4 rows)
    # a bank of 1024 words takes 2 BRAM18, its halves 1 each: the same 32.
    accs = [next(b for b in buffers("conv", spec) if b["name"] == "acc") for spec in (one, two)]
    assert [(b["words"], b["banks"]) for b in accs] == [(128, 4), (64, 8)]
    assert [bram18_tiles(b["words"], 32) * b["banks"] for b in accs] == [4, 8]
    vox = [next(b for b in buffers("conv", VOX256_CONV | {"requant_lanes": lanes})
                if b["name"] == "acc") for lanes in (1, 2)]
    assert [bram18_tiles(b["words"], 32) * b["banks"] for b in vox] == [32, 32]


def test_band_rows_are_what_the_input_band_holds_for_the_kernel_and_stride():
    # IN_ROWS = max(largest kernel, tile_rows + 2): 13 at tile_rows 8 with a 13 × 13 kernel, 18
    # at 16; the default's 7.
    vox = default_spec("conv") | {"kernel_sizes": [1, 3, 7, 13], "strides": [1, 2, 4]}
    assert [conv_in_rows(vox | {"tile_rows": t}) for t in (2, 8, 16)] == [13, 13, 18]
    assert conv_in_rows(default_spec("conv")) == 7
    tall = vox | {"tile_rows": 8}
    # (kernel, stride, pool) → rows: 3 × 3 gets the whole tile, larger kernels and strides what
    # the 13 rows hold, pooled rounded down to even, 0 when not even a pair fits.
    cases = {(3, 1, False): 8, (3, 1, True): 8, (7, 1, False): 7, (7, 1, True): 6,
             (13, 4, False): 1, (13, 1, True): 0, (5, 2, False): 5, (5, 2, True): 4,
             (3, 4, False): 3, (3, 4, True): 2, (1, 4, False): 4}
    assert {key: conv_band_rows(tall, *key) for key in cases} == cases
    assert conv_band_rows(default_spec("conv"), 7, 2, False) == 1


def test_conv_cycles_follow_the_band_rows(board):
    """Only the band rows matter to the cycle model: a 7 × 7 layer in a 13-row band has 7 rows
    at tile_rows 8 as at 7 (the same cycles), a 3 × 3 layer 8 and 7 (not the same)."""
    spec = default_spec("conv") | {"kernel_sizes": [1, 3, 7, 13], "features": ["relu"]}
    tiles = {t: spec | {"tile_rows": t} for t in (7, 8)}
    big = Instruction("conv", "k7", dict(in_c=8, in_h=32, in_w=32, out_c=8, kernel=7, stride=1,
                                         pad=3, flags=1))
    small = conv("k3", 8, 32, 8)
    assert len({instruction_cost(big, s, board, 100) for s in tiles.values()}) == 1
    assert len({instruction_cost(small, s, board, 100) for s in tiles.values()}) == 2


def test_estimate_record_has_the_report_shape(board):
    record = estimate_engine("conv", default_spec("conv"), board, 100, [conv("c", 8, 8, 8)])
    real = parse_report(VENDOR / "csynth" / "pynqz2_axil_conv2d.csynth.xml")
    assert record["kind"] == "estimate" and record["tool"] == "grace_flow estimate"
    assert set(real["resources"]) - {"URAM"} <= set(record["resources"])
    assert record["latency_cycles"] == {"min": 4926, "max": 4926}
    assert record["clock_ns"] == {"target": 10.0}
    assert record["part"] == real["part"] == board.part


def test_logic_coefficients_are_the_fixture_fit_within_the_stated_residual():
    rows = calibration.fixture_rows(VENDOR / "csynth")
    assert calibration.fit(rows) == LOGIC_COEFFICIENTS
    errors = calibration.residuals(rows, LOGIC_COEFFICIENTS)
    worst = max(abs(e) for per in errors.values() for e in per.values())
    assert worst <= STATED_RESIDUAL
    # The designs closest in kind to the engines, the public HLS conv blocks: within a third.
    assert all(abs(errors[row["name"]][key]) < 1 / 3
               for row in calibration.PUBLIC_BLOCKS for key in ("LUT", "FF"))


def test_platform_overhead_is_the_ps_only_fixture():
    used = parse_report(VENDOR / "vivado" / "pynq_add_utilization_placed.rpt")["resources"]
    assert {k: used[k] for k in ("LUT", "FF", "BRAM18", "DSP")} == {
        k: PLATFORM[k] for k in ("LUT", "FF", "BRAM18", "DSP")}


def test_over_budget_message_names_resources_engines_and_keys(board):
    spec = default_spec("conv") | {"unroll_in": 16, "unroll_out": 16, "max_width": 1024,
                                   "tile_rows": 8, "macs_per_dsp": 1}
    used = {"conv": engine_resources("conv", spec),
            "grid_sample": engine_resources("grid_sample", default_spec("grid_sample"))}
    with pytest.raises(BudgetError) as err:
        check_budget(used, board, 0.1)
    assert str(err.value) == (
        "over budget on pynq_z1 with margin 0.1: "
        "BRAM18 752 > 252 (conv 720, grid_sample 32, platform 0; lower "
        "engines.conv.max_width, engines.conv.in_block, engines.conv.tile_rows, "
        "engines.conv.kernel_sizes, engines.conv.unroll_out, engines.conv.unroll_in); "
        "DSP 279 > 198 (conv 274, grid_sample 5, platform 0; lower engines.conv.unroll_out, "
        "engines.conv.unroll_in)")


def test_fitting_design_returns_totals(board):
    used = {e: engine_resources(e, default_spec(e)) for e in ("conv", "grid_sample")}
    total = check_budget(used, board, 0.1)
    assert total["DSP"] == 26 + used["grid_sample"]["DSP"]


def test_schedule_overlaps_independent_engines():
    ins = [conv("a", 8, 8, 8), Instruction("grid_sample", "g", {}), conv("b", 8, 8, 8, deps=[0])]
    assert schedule(ins, [100, 50, 100], host_cycles=10) == [(10, 110), (20, 70), (120, 220)]


def test_frame_model_is_labelled_and_consistent(board):
    specs = {e: default_spec(e) for e in ENGINES}
    frame = frame_model([conv("a", 16, 16, 16)], specs, board, 100, 64 * 64)
    assert frame["label"] == "modeled"
    assert frame["latency_s"] == pytest.approx(frame["latency_cycles"] / 100e6)
    # Power over the frame plus the DDR chips' energy per byte moved.
    assert frame["uj_per_pixel"] == pytest.approx(
        (frame["power_w"]["total"] * frame["latency_s"]
         + frame["ddr_bytes"] * board.power.ddr_j_per_byte.value) / 4096 * 1e6)
    assert frame["ddr_energy_j"] == frame["ddr_bytes"] * board.power.ddr_j_per_byte.value
    assert 0 < frame["lane_utilization"] <= 1
    assert frame["packed_peak_utilization"] == pytest.approx(frame["dsp_peak_utilization"] / 2)
    # DDR bytes by layer kind add up to the frame's, weights apart.
    cost = instruction_cost(conv("a", 16, 16, 16), specs["conv"], board, 100)
    assert frame["ddr_bytes_by_kind"] == {
        "conv 3x3 weights": cost.weight_bytes,
        "conv 3x3 activations": cost.ddr_bytes - cost.weight_bytes}
    assert cost.weight_bytes == 16 * 16 * 9 * 8  # re-read for each of the 8 bands


def _phased(phases):
    """A program of a key part (an encoder) and a frame part that reads it."""
    return [Instruction(i.engine, i.node, i.registers, i.deps, phase) for i, phase in zip(
        [conv("enc", 16, 32, 32), conv("enc2", 32, 32, 32, deps=[0]),
         Instruction("grid_sample", "w", dict(channels=32, in_h=32, in_w=32, out_h=32, out_w=32)),
         conv("dec", 32, 32, 16, deps=[1, 2])], phases)]


def test_frame_model_amortises_the_key_work_over_the_gop(board):
    specs = {e: default_spec(e) for e in ENGINES}
    phased = _phased(["key", "key", "frame", "frame"])
    all_frame = _phased(["frame"] * 4)  # what every frame recomputing it all looks like
    old = frame_model(all_frame, specs, board, 100, 64 * 64)
    once = frame_model(phased, specs, board, 100, 64 * 64)  # gop 1: the old figure exactly
    assert {k: v for k, v in once.items() if k not in ("gop_frames", "key_instructions")} == {
        k: v for k, v in old.items() if k not in ("gop_frames", "key_instructions")}
    assert frame_model(all_frame, specs, board, 100, 64 * 64, gop=8)["latency_s"] == (
        old["latency_s"])  # nothing to amortise
    frames = frame_model(phased, specs, board, 100, 64 * 64, gop=8)
    key, other = frames["gop_frames"]["key_frame"], frames["gop_frames"]["other_frames"]
    assert frames["gop"] == 8 and frames["key_instructions"] == 2
    assert key["latency_s"] == pytest.approx(old["latency_s"])
    assert frames["latency_s"] == pytest.approx((key["latency_s"] + 7 * other["latency_s"]) / 8)
    assert other["latency_s"] < frames["latency_s"] < old["latency_s"]
    costs = [instruction_cost(i, specs[i.engine], board, 100) for i in phased]
    assert other["conv_macs"] == costs[3].macs
    assert frames["conv_macs"] == pytest.approx((costs[0].macs + costs[1].macs
                                                 + 8 * costs[3].macs) / 8)
    assert frames["ddr_bytes"] == pytest.approx((sum(c.ddr_bytes for c in costs)
                                                 + 7 * sum(c.ddr_bytes for c in costs[2:])) / 8)
    assert frames["uj_per_pixel"] == pytest.approx(
        (frames["power_w"]["total"] * frames["latency_s"]
         + frames["ddr_bytes"] * board.power.ddr_j_per_byte.value) / 4096 * 1e6)
    with pytest.raises(ValueError, match="gop must be at least 1"):
        frame_model(phased, specs, board, 100, 64 * 64, gop=0)


PROGRAM = [conv("a", 32, 16, 32), conv("b", 32, 16, 64, flags=3, deps=[0]),
           Instruction("grid_sample", "w", dict(channels=64, in_h=8, in_w=8, out_h=8, out_w=8),
                       [1])]
AUTO = {"conv": ["unroll_in", "unroll_out", "tile_rows"], "grid_sample": ["unroll_channels"]}


def _search(board, margin, objective="latency"):
    specs = {e: default_spec(e) for e in ("conv", "grid_sample")}
    return choose_folding(specs, AUTO, PROGRAM, board, 100, margin, 64 * 64, objective)


def test_search_is_deterministic_and_writes_the_choice(board):
    first, rows = _search(board, 0.0)
    again, rows_again = _search(board, 0.0)
    assert first == again and rows == rows_again
    assert first["conv"]["unroll_in"] * first["conv"]["unroll_out"] > 16  # beats the default
    best = min(rows, key=lambda row: row["latency_s"])
    assert best["choice"] == {f"{e}.{k}": first[e][k] for e, keys in sorted(AUTO.items())
                              for k in keys}
    assert [row["latency_s"] for row in rows] == sorted(
        (row["latency_s"] for row in rows), reverse=True)


def test_more_budget_is_never_slower(board):
    latencies = []
    for margin in (0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0):
        specs, _ = _search(board, margin)
        frame = frame_model(PROGRAM, specs, board, 100, 64 * 64)
        latencies.append(frame["latency_s"])
    assert latencies == sorted(latencies, reverse=True)
    assert latencies[-1] < latencies[0]


def test_search_keeps_to_tile_rows_whose_band_holds_a_pooled_pair(board):
    """A pooled 7 × 7 layer needs 8 input rows for its pair of output rows: the band
    (max(7, tile_rows + 2) rows) holds them from tile_rows 6 on."""
    pooled = Instruction("conv", "p", dict(in_c=8, in_h=16, in_w=16, out_c=8, kernel=7,
                                           stride=1, pad=3, flags=3))
    specs = {e: default_spec(e) for e in ("conv", "grid_sample")}
    chosen, rows = choose_folding(specs, AUTO, [*PROGRAM, pooled], board, 100, 0.0, 64 * 64)
    assert chosen["conv"]["tile_rows"] >= 6
    assert {row["choice"]["conv.tile_rows"] for row in rows} <= {6, 8, 16}


def test_search_without_room_says_what_to_change(board):
    with pytest.raises(SearchError, match=r"^no folding of engines\.conv\.unroll_in, .* fits "
                                          r"pynq_z1 with margin 0\.95; lower"):
        _search(board, 0.95)


def test_most_mac_lanes_fits_and_one_more_lane_does_not(board):
    specs = {e: default_spec(e) for e in ENGINES}

    def used_with(unroll_in, unroll_out):
        conv = {**specs["conv"], "unroll_in": unroll_in, "unroll_out": unroll_out}
        round_to_unroll("conv", conv, ("max_in_channels", "max_out_channels"))
        return {**{e: engine_resources(e, s) for e, s in specs.items()},
                "conv": engine_resources("conv", conv)}

    most = most_mac_lanes(specs, board, 0.1)
    assert most["resources"] == check_budget(
        used_with(most["unroll_in"], most["unroll_out"]), board, 0.1)
    for unroll_in in CANDIDATES[("conv", "unroll_in")]:
        # The fewest output lanes giving more MAC lanes than the ceiling: no fit, or no spec.
        with pytest.raises((BudgetError, SpecError)):
            check_budget(used_with(unroll_in, most["lanes"] // unroll_in + 1), board, 0.1)
    searched, _ = choose_folding(specs, AUTO, PROGRAM, board, 100, 0.1, 64 * 64)
    # The ceiling beside the grid_sample the search chose (its lanes cost LUTs) holds the search.
    beside = most_mac_lanes({**specs, "grid_sample": searched["grid_sample"]}, board, 0.1)
    assert beside["lanes"] >= searched["conv"]["unroll_in"] * searched["conv"]["unroll_out"]
    assert most_mac_lanes(specs, board, 0.97) is None


def test_search_explores_packing_and_every_pareto_point_fits(board):
    """With macs_per_dsp auto both packings are costed; each printed point is within budget."""
    auto = {**AUTO, "conv": [*AUTO["conv"], "macs_per_dsp"]}
    specs = {e: default_spec(e) for e in ("conv", "grid_sample")}
    limit = budget(board, 0.3)
    chosen, rows = choose_folding(specs, auto, PROGRAM, board, 100, 0.3, 64 * 64, "energy")
    assert {row["choice"]["conv.macs_per_dsp"] for row in rows} == {1, 2}
    assert all(row["resources"][key] <= limit[key] for row in rows for key in limit)
    # Packing frees DSPs at equal lanes, so the most energy-efficient folding packs.
    assert chosen["conv"]["macs_per_dsp"] == 2



def test_packing_alone_is_not_searched(board):
    """A workflow that fixes the folding keeps the packed default (no search); beside an auto
    unroll, packing is searched too."""
    from grace_flow.compile.stage import size_folding

    program = SimpleNamespace(instructions=PROGRAM)
    specs = {e: default_spec(e) for e in ("conv", "grid_sample")}
    fixed = {"conv": {"unroll_in": 4, "unroll_out": 4, "tile_rows": 2, "macs_per_dsp": "auto"},
             "grid_sample": {"unroll_channels": 4, "band_rows": 8}}
    kwargs = dict(clock_mhz=100, margin=0.3, pixels=64 * 64, objective="energy", gop=1)
    assert size_folding(program, specs, fixed, board, **kwargs) == (specs, [])
    searched = {**fixed, "conv": {**fixed["conv"], "unroll_out": "auto"}}
    _, rows = size_folding(program, specs, searched, board, **kwargs)
    assert all(set(row["choice"]) == {"conv.unroll_out", "conv.macs_per_dsp"} for row in rows)
