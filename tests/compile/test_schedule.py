"""Overlap model: engines run one instruction at a time, dependencies hold, overlap never hurts."""

import json

import pytest
from decoder_support import compile_tiny, tiny_qgraph

from grace_flow.engines.program import Program
from grace_flow.compile.schedule import instruction_cycles, schedule
from grace_flow.engines.spec import default_spec


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schedule")
    compile_tiny(folder, tiny_qgraph())
    program = Program.load(folder / "compile" / "program.json")
    return program, json.loads((folder / "compile" / "schedule.json").read_text())


def test_schedule_properties(compiled):
    program, timing = compiled
    rows = timing["instructions"]
    assert [r["index"] for r in rows] == list(range(len(program.instructions)))
    for ins, row in zip(program.instructions, rows):
        assert row["end"] - row["start"] == row["cycles"] > 0
        assert all(row["start"] >= rows[d]["end"] for d in ins.deps)
    by_engine = {}
    for row in rows:
        by_engine.setdefault(row["engine"], []).append(row)
    for engine, runs in by_engine.items():  # one queue per engine, in issue order
        assert all(a["end"] <= b["start"] for a, b in zip(runs, runs[1:])), engine
        assert timing["engine_busy_cycles"][engine] == sum(r["cycles"] for r in runs)
    assert timing["serial_cycles"] == sum(r["cycles"] for r in rows)
    assert max(timing["engine_busy_cycles"].values()) <= timing["total_cycles"]
    assert timing["total_cycles"] <= timing["serial_cycles"]
    assert timing["total_cycles"] == max(r["end"] for r in rows)
    assert timing["concurrent"], "some instructions on different engines overlap"


def test_conv_cycles_are_loop_bounds_over_unroll(compiled):
    program, _ = compiled
    spec = default_spec("conv")
    ins = next(i for i in program.instructions if i.node == "dense_motion_network.mask")
    # 5 out / 4 → 2 blocks, 28 in / 4 → 7 groups, 7×7 taps, 16×16 pixels
    assert instruction_cycles("conv", ins.registers, spec) == 2 * 7 * 49 * 16 * 16
    pooled = next(i for i in program.instructions if i.node == "down_blocks.0")
    assert instruction_cycles("conv", pooled.registers, spec) == 4 * 2 * 9 * 32 * 32


def test_serial_program_has_no_gain(compiled):
    program, _ = compiled
    chained = Program([type(i)(i.engine, i.node, i.registers, [k - 1] if k else [])
                       for k, i in enumerate(program.instructions)], program.ddr_bytes,
                      program.weights, program.arena)
    specs = {e: default_spec(e) for e in ("conv", "grid_sample", "upsample", "elementwise",
                                          "keypoint")}
    timing = schedule(chained, specs)
    assert timing["total_cycles"] == timing["serial_cycles"] and timing["concurrent"] == {}


def test_gop_amortises_the_key_instructions(compiled):
    program, timing = compiled
    specs = {e: default_spec(e) for e in ("conv", "grid_sample", "upsample", "elementwise",
                                          "keypoint")}
    once = schedule(program, specs)
    assert once["gop"] == 1 and once["cycles_per_frame"] == once["total_cycles"]
    assert timing["cycles_per_frame"] == timing["total_cycles"]  # the compile stage: gop 1
    assert once["key_instructions"] == 5  # the pixel table, motion downsample, encoder
    assert 0 < once["other_frame_cycles"] < once["total_cycles"]
    gop = schedule(program, specs, gop=4)
    assert gop["cycles_per_frame"] == (once["total_cycles"] + 3 * once["other_frame_cycles"]) / 4
    assert {k: v for k, v in gop.items() if k not in ("gop", "cycles_per_frame")} == {
        k: v for k, v in once.items() if k not in ("gop", "cycles_per_frame")}
