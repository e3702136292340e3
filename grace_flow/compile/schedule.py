"""Overlap model: when each instruction would run on the co-processor, and what overlap buys.

Cycle counts are loop-bound counts of each engine's pipelined inner loop at II = 1, from the
registers and the spec's unroll factors (DDR transfers are assumed hidden by double buffering;
a later estimate backend may replace these formulas):

* conv: ⌈out_c / unroll_out⌉ · ⌈in_c / unroll_in⌉ · k² · Ho · Wo (Ho, Wo before the pool);
* grid_sample: out_h · out_w · ⌈channels / unroll_channels⌉;
* upsample: channels · out_h · out_w (one map value or field pair per cycle);
* elementwise: channels · height · width, twice that for softmax (exp + sum, then normalise);
* keypoint: K · H · W for heatmap (both heats per keypoint) and sparse, C · H · W for deform.

The schedule is a list schedule with one in-order queue per engine (the host issues in program
order): an instruction starts when its engine is free and every dependency has ended.
"""

from __future__ import annotations

from grace_flow.compile.hazards import conv_geometry
from grace_flow.hls.registers import MODES


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def instruction_cycles(engine: str, r: dict[str, int], spec: dict) -> int:
    """Estimated cycles of one instruction on an engine built for ``spec`` (see module doc)."""
    if engine == "conv":
        ho, wo, _, _ = conv_geometry(r)
        return (_ceil(r["out_c"], spec["unroll_out"]) * _ceil(r["in_c"], spec["unroll_in"])
                * r["kernel"] ** 2 * ho * wo)
    if engine == "grid_sample":
        return r["out_h"] * r["out_w"] * _ceil(r["channels"], spec["unroll_channels"])
    if engine == "upsample":
        return r["channels"] * r["out_h"] * r["out_w"]
    mode = r.get("mode", 0)
    if engine == "elementwise":
        passes = 2 if mode == MODES["elementwise"]["softmax"] else 1
        return passes * r["channels"] * r["height"] * r["width"]
    per_pixel = r["channels"] if mode == MODES["keypoint"]["deform"] else r["num_kp"]
    return per_pixel * r["height"] * r["width"]


def schedule(program, specs: dict[str, dict]) -> dict:
    """Start and end cycle of every instruction, engine busy and concurrent cycles, total vs serial.

    ``concurrent`` maps each set of engines ("conv+keypoint") to the cycles during which exactly
    those engines are busy together.
    """
    free: dict[str, int] = {}
    rows = []
    for index, ins in enumerate(program.instructions):
        cycles = instruction_cycles(ins.engine, ins.registers, specs[ins.engine])
        start = max([free.get(ins.engine, 0), *(rows[d]["end"] for d in ins.deps)])
        rows.append({"index": index, "engine": ins.engine, "node": ins.node, "cycles": cycles,
                     "start": start, "end": start + cycles})
        free[ins.engine] = start + cycles
    busy: dict[str, int] = {}
    for row in rows:
        busy[row["engine"]] = busy.get(row["engine"], 0) + row["cycles"]
    total = max((row["end"] for row in rows), default=0)
    serial = sum(busy.values())
    return {
        "total_cycles": total,
        "serial_cycles": serial,
        "overlap_gain": round(serial / total, 4) if total else 1.0,
        "engine_busy_cycles": dict(sorted(busy.items())),
        "concurrent": _concurrent(rows),
        "instructions": rows,
    }


def _concurrent(rows: list[dict]) -> dict[str, int]:
    """Cycles per set of two or more engines busy at the same time."""
    edges = sorted({row["start"] for row in rows} | {row["end"] for row in rows})
    together: dict[str, int] = {}
    for low, high in zip(edges, edges[1:]):
        active = sorted({r["engine"] for r in rows if r["start"] <= low and high <= r["end"]})
        if len(active) > 1:
            key = "+".join(active)
            together[key] = together.get(key, 0) + high - low
    return dict(sorted(together.items()))
