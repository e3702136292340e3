"""The compile stage: quantized graph + engine settings → program, weights, requirements, specs."""

from __future__ import annotations

import json

from grace_flow.compile.lower import lower
from grace_flow.compile.specs import check_bands, engine_specs
from grace_flow.engines.spec import default_spec
from grace_flow.fsutil import atomic_write_bytes, atomic_write_text, write_if_changed
from grace_flow.perf.board import load_board
from grace_flow.perf.frame import frame_schedule
from grace_flow.quant.qgraph import QuantizedGraph

def _json(value) -> str:
    return json.dumps(value, indent=1) + "\n"


def size_folding(program, specs: dict, engine_settings: dict, board, *, clock_mhz: float,
                 margin: float, pixels: int, objective: str, gop: int) -> tuple:
    """Run the design-space search on the ``auto`` unroll/tile keys (if any); (specs, pareto)."""
    from grace_flow.perf.search import CANDIDATES, COMPANION_KEYS, choose_folding

    auto_keys = {engine: [key for key, value in settings.items()
                          if value == "auto" and (engine, key) in CANDIDATES]
                 for engine, settings in engine_settings.items()}
    auto_keys = {engine: keys for engine, keys in auto_keys.items()
                 if any((engine, key) not in COMPANION_KEYS for key in keys)}
    if not auto_keys:
        return specs, []
    growable = {engine: [key for key in spec if engine_settings.get(engine, {}).get(key, "auto")
                         == "auto"] for engine, spec in specs.items()}
    return choose_folding(specs, auto_keys, program.instructions, board, clock_mhz, margin,
                          pixels, objective, growable=growable, gop=gop)


def compile_program(qgraph_json, qparams_npz, board_path, program_bin, program_json, weights_bin,
                    schedule_json, pareto_json, specs: dict, requirements: dict, *,
                    engine_settings: dict, clock_mhz: float, margin: float, objective: str,
                    gop: int, pixels: int, alignment: int) -> dict:
    """Lower the quantized graph, size the engine specs, schedule; write the program (binary
    and listing), the weight blob, the schedule, the Pareto table and per engine its
    ``requirements`` and ``specs`` file (those two only when their content changes, so
    unchanged engines stay up to date for doit). Nothing is written when the program cannot be
    compiled.

    The board's DDR bounds the program; unroll/tile keys left ``auto`` are chosen by the
    design-space search (its Pareto table goes to pareto.json) on the frame model averaged over
    a GOP of ``gop`` frames, the figure synth:system reports. schedule.json is that model's
    overlap schedule. Returns a summary: instructions per engine, DDR, weight and arena bytes,
    cycles.

    The conv weights are laid out for the conv spec the search chooses, and the search needs a
    program: so the graph is lowered twice, first with the default conv spec's layout (the
    requirements and the search read only the instructions' shape registers, which no layout
    changes), then with the chosen spec's.
    """
    board = load_board(board_path)
    qgraph = QuantizedGraph.load(qgraph_json, qparams_npz)
    ddr_limit = board.memory.ddr.size_mb << 20
    program, _ = lower(qgraph, alignment=alignment, ddr_limit=ddr_limit,
                       conv_spec=default_spec("conv"))
    required, sized = engine_specs(program, engine_settings)
    if engine_settings.get("conv", {}).get("tile_rows", "auto") != "auto":
        check_bands(program, sized["conv"])  # else the search keeps to tile_rows that fit
    sized, front = size_folding(program, sized, engine_settings, board, clock_mhz=clock_mhz,
                                margin=margin, pixels=pixels, objective=objective, gop=gop)
    program, weights = lower(qgraph, alignment=alignment, ddr_limit=ddr_limit,
                             conv_spec=sized["conv"])
    timing = frame_schedule(program.instructions, sized, board, clock_mhz, gop=gop)

    for engine in sized:
        write_if_changed(requirements[engine], _json(required[engine]))
        write_if_changed(specs[engine], _json(sized[engine]))
    program.save(program_bin, program_json)
    atomic_write_bytes(weights_bin, weights)
    atomic_write_text(schedule_json, _json(timing))
    atomic_write_text(pareto_json, _json(front))
    counts: dict[str, int] = {}
    for ins in program.instructions:
        counts[ins.engine] = counts.get(ins.engine, 0) + 1
    return {
        "instructions": dict(sorted(counts.items())),
        "ddr_bytes": program.ddr_bytes,
        "weight_bytes": program.weights[1],
        "arena_bytes": program.arena[1],
        "latency_cycles": timing["latency_cycles"],
        "serial_cycles": timing["key_frame"]["serial_cycles"],
    }
