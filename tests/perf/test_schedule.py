"""The overlap schedule and the one cycle model: compile's schedule, the search's chosen folding
and synth:system report the same cycles for one program."""

import json

import pytest
from decoder_support import SIZE, compile_tiny, tiny_qgraph
from repo_paths import BOARD_FILE

from grace_flow.engines.program import Program
from grace_flow.engines.spec import default_spec
from grace_flow.perf.frame import frame_model, frame_schedule
from grace_flow.synth.stage import synth_engine_report, synth_system_report

ENGINES = ("conv", "grid_sample", "upsample", "elementwise", "keypoint")
GOP = 4


#: Every key auto but three, so the search chooses conv's output lanes and grid_sample's.
SETTINGS = {engine: {key: "auto" for key in default_spec(engine)} for engine in ENGINES}
SETTINGS["conv"].update(unroll_in=4, tile_rows=2)
SETTINGS["grid_sample"].update(band_rows=8)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """A tiny program compiled with the search choosing part of the folding."""
    folder = tmp_path_factory.mktemp("schedule")
    compile_tiny(folder, tiny_qgraph(), settings=SETTINGS, gop=GOP)
    return folder, Program.load(folder / "compile" / "program.json")


def _json(path):
    return json.loads(path.read_text())


def test_schedule_properties(compiled):
    folder, program = compiled
    timing = _json(folder / "compile" / "schedule.json")["key_frame"]
    rows = timing["instructions"]
    assert [r["index"] for r in rows] == list(range(len(program.instructions)))
    for ins, row in zip(program.instructions, rows):
        assert (row["engine"], row["node"], row["phase"]) == (ins.engine, ins.node, ins.phase)
        assert row["end"] - row["start"] == row["cycles"] > 0
        assert all(row["start"] >= rows[d]["end"] for d in ins.deps)
    by_engine = {}
    for row in rows:
        by_engine.setdefault(row["engine"], []).append(row)
    for engine, runs in by_engine.items():  # one queue per engine, in issue order
        assert all(a["end"] <= b["start"] for a, b in zip(runs, runs[1:])), engine
        assert timing["engine_busy_cycles"][engine] == sum(r["cycles"] for r in runs)
    host = rows[0]["start"]  # the first instruction starts after its register writes
    assert timing["serial_cycles"] == sum(r["cycles"] + host for r in rows)
    assert max(timing["engine_busy_cycles"].values()) <= timing["makespan"]
    assert timing["makespan"] == max(r["end"] for r in rows)
    assert timing["concurrent"], "some instructions on different engines overlap"
    assert timing["overlap_gain"] > 1


def test_serial_program_gains_nothing(compiled, board):
    _, program = compiled
    chained = [type(i)(i.engine, i.node, i.registers, [k - 1] if k else [], i.phase)
               for k, i in enumerate(program.instructions)]
    specs = {e: default_spec(e) for e in ENGINES}
    timing = frame_schedule(chained, specs, board, 100.0)["key_frame"]
    assert timing["concurrent"] == {}
    # Each instruction waits for the previous one: no overlap, nothing gained.
    assert timing["makespan"] == timing["serial_cycles"] and timing["overlap_gain"] == 1.0


def test_schedule_search_and_system_agree_on_the_cycles(compiled, tmp_path, board):
    """One program, one cycle count: schedule.json, the Pareto row of the chosen folding, and
    synth:system's frame."""
    folder, program = compiled
    compiled_dir = folder / "compile"
    specs = {e: _json(compiled_dir / "specs" / f"{e}.json") for e in ENGINES}
    schedule = _json(compiled_dir / "schedule.json")
    front = _json(compiled_dir / "pareto.json")
    # The search minimises latency: its choice is as fast as the fastest Pareto point.
    fastest = min(front, key=lambda row: row["latency_cycles"])
    reports = {}
    for engine in ENGINES:
        reports[engine] = tmp_path / f"{engine}.json"
        synth_engine_report(engine, compiled_dir / "specs" / f"{engine}.json", tmp_path,
                            BOARD_FILE, 100.0, "estimate", tmp_path / engine, reports[engine])
    system = synth_system_report(reports, {e: compiled_dir / "specs" / f"{e}.json"
                                           for e in ENGINES},
                                 compiled_dir / "program.json", BOARD_FILE,
                                 tmp_path / "system.json", tmp_path / "system", clock_mhz=100.0,
                                 margin=0.1, toolchain="estimate", pixels=SIZE * SIZE, gop=GOP)
    cycles = system["frame"]["latency_cycles"]
    assert schedule["latency_cycles"] == fastest["latency_cycles"] == cycles
    assert schedule["gop"] == system["frame"]["gop"] == GOP
    model = frame_model(program.instructions, specs, board, 100.0, SIZE * SIZE, gop=GOP)
    assert model["latency_cycles"] == cycles
    # The GOP is in the figure: the key work is amortised, so it is below the key frame's.
    assert cycles < schedule["key_frame"]["cycles"]
