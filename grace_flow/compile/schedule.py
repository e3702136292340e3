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

A frame with a new key frame (the first of a GOP) runs the whole program; the other frames of the
GOP run only the frame-phase instructions (program.frame_only). ``cycles_per_frame`` is the
average over a GOP of ``gop`` frames, the key-phase work amortised (``gop`` 1: all of it every
frame, ``total_cycles``).
"""

from __future__ import annotations

from grace_flow.compile.hazards import conv_geometry
from grace_flow.engines.program import frame_only
from grace_flow.engines.registers import MODES


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


def _rows(instructions, specs: dict[str, dict]) -> list[dict]:
    free: dict[str, int] = {}
    rows = []
    for index, ins in enumerate(instructions):
        cycles = instruction_cycles(ins.engine, ins.registers, specs[ins.engine])
        start = max([free.get(ins.engine, 0), *(rows[d]["end"] for d in ins.deps)])
        rows.append({"index": index, "engine": ins.engine, "node": ins.node, "phase": ins.phase,
                     "cycles": cycles, "start": start, "end": start + cycles})
        free[ins.engine] = start + cycles
    return rows


def schedule(program, specs: dict[str, dict], gop: int = 1) -> dict:
    """Start and end cycle of every instruction, engine busy and concurrent cycles, total vs serial.

    ``concurrent`` maps each set of engines ("conv+keypoint") to the cycles during which exactly
    those engines are busy together. ``other_frame_cycles`` is the span of a frame without a new
    key frame (frame-phase instructions only), ``cycles_per_frame`` the average over a GOP of
    ``gop`` frames.
    """
    if gop < 1:
        raise ValueError(f"schedule: gop must be at least 1, got {gop}")
    rows = _rows(program.instructions, specs)
    busy: dict[str, int] = {}
    for row in rows:
        busy[row["engine"]] = busy.get(row["engine"], 0) + row["cycles"]
    total = max((row["end"] for row in rows), default=0)
    serial = sum(busy.values())
    other = max((row["end"] for row in _rows(frame_only(program.instructions), specs)),
                default=0)
    return {
        "total_cycles": total,
        "serial_cycles": serial,
        "overlap_gain": round(serial / total, 4) if total else 1.0,
        "engine_busy_cycles": dict(sorted(busy.items())),
        "concurrent": _concurrent(rows),
        "key_instructions": sum(row["phase"] == "key" for row in rows),
        "key_serial_cycles": sum(row["cycles"] for row in rows if row["phase"] == "key"),
        "other_frame_cycles": other,
        "gop": gop,
        "cycles_per_frame": total if gop == 1 else (total + (gop - 1) * other) / gop,
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
