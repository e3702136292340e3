"""Per-frame model of a program on the co-processor: overlap schedule, fps, DSP use, DDR, energy.

The host walks the program in order (grace_flow/engines/program.py): it issues instruction i
when its dependencies are done and its engine is free, spending ``host_us`` on the register
writes; engines run concurrently. The frame is at least as long as moving all its DDR bytes at
the board's DDR peak. Energy is the board power model (PS + PL static + PL dynamic of the used
resources at the clock) times the frame time, plus the DDR chips' energy per byte moved. Every
figure is "modeled".

With a GOP of ``gop`` frames, the first frame runs the whole program (a new key frame) and the
other ``gop - 1`` only its frame-phase instructions (program.frame_only): per-frame figures are
the average over the GOP, so the key-phase work is amortised (``gop`` 1: every frame recomputes
it).
"""

from __future__ import annotations

from grace_flow.engines.program import frame_only
from grace_flow.perf.board import Board
from grace_flow.perf.budget import PLATFORM, total_resources
from grace_flow.perf.cycles import ENGINE_PORT_BYTES, KERNEL_PORT_BYTES, instruction_cost
from grace_flow.perf.estimate import engine_resources, mac_lanes

#: Host time per instruction: ~16 AXI-Lite register writes from the PYNQ driver (Python MMIO,
#: about 2 µs each) plus the start and the wait. An assumption.
HOST_US_PER_INSTRUCTION = 40.0
#: The paper's figure (GRACE, arXiv 2511.09272, PYNQ-Z1).
PAPER_UJ_PER_PIXEL = 11.7


def schedule(instructions: list, costs: list[int], host_cycles: int) -> list[tuple[int, int]]:
    """(start, finish) cycle of every instruction under in-order issue with overlap."""
    engine_free: dict[str, int] = {}
    host_free = 0
    times: list[tuple[int, int]] = []
    for ins, cycles in zip(instructions, costs):
        ready = max([host_free, engine_free.get(ins.engine, 0)]
                    + [times[d][1] for d in ins.deps])
        start = ready + host_cycles
        host_free = start
        times.append((start, start + cycles))
        engine_free[ins.engine] = start + cycles
    return times


def _run(instructions: list, specs: dict, board: Board, mhz: float, port_bytes, host_cycles
         ) -> dict:
    """Cycles (schedule or DDR bound), DDR bytes, conv MACs, busy cycles and the per-instruction
    schedule rows of one frame."""
    costs = [instruction_cost(ins, specs[ins.engine], board, mhz, port_bytes)
             for ins in instructions]
    times = schedule(instructions, [c.cycles for c in costs], host_cycles)
    makespan = max((finish for _, finish in times), default=0)
    ddr_bytes = sum(c.ddr_bytes for c in costs)
    kinds: dict[str, int] = {}
    for ins, cost in zip(instructions, costs):
        for kind, moved in layer_kind_bytes(ins, cost).items():
            kinds[kind] = kinds.get(kind, 0) + moved
    ddr_cycles = ddr_bytes / board.ddr_peak_bytes_per_s * mhz * 1e6
    return {
        "makespan": makespan, "ddr_cycles": ddr_cycles, "cycles": max(makespan, ddr_cycles),
        "ddr_bytes": ddr_bytes, "ddr_by_kind": kinds,
        "macs": sum(c.macs for c, ins in zip(costs, instructions) if ins.engine == "conv"),
        "busy": {engine: sum(c.cycles for c, ins in zip(costs, instructions)
                             if ins.engine == engine) for engine in specs},
        "instructions": len(instructions),
        "rows": [{"engine": ins.engine, "node": ins.node, "phase": ins.phase,
                  "cycles": cost.cycles, "ddr_bytes": cost.ddr_bytes, "start": start,
                  "end": end} for ins, cost, (start, end) in zip(instructions, costs, times)],
    }


def layer_kind_bytes(ins, cost) -> dict[str, int]:
    """DDR bytes of one instruction by layer kind: conv by kernel size, weights apart from the
    activations (input, residual, output); the other engines by engine."""
    if ins.engine != "conv":
        return {ins.engine: cost.ddr_bytes}
    k = ins.registers.get("kernel", 0)
    return {f"conv {k}x{k} weights": cost.weight_bytes,
            f"conv {k}x{k} activations": cost.ddr_bytes - cost.weight_bytes}


def _gop_runs(instructions: list, specs: dict, board: Board, clock_mhz: float, port_bytes,
              host_us: float, gop: int) -> tuple[float, dict, dict]:
    """The PL clock and the runs of a key frame (the whole program) and of the other frames of
    the GOP (its frame-phase instructions)."""
    if gop < 1:
        raise ValueError(f"frame model: gop must be at least 1, got {gop}")
    mhz = board.pl_clock_mhz(clock_mhz)
    host_cycles = round(host_us * mhz)
    key = _run(instructions, specs, board, mhz, port_bytes, host_cycles)
    other = key if gop == 1 else _run(frame_only(instructions), specs, board, mhz, port_bytes,
                                      host_cycles)
    return mhz, key, other


def _per_frame(key_value, other_value, gop: int):
    """The GOP average of a figure: one key frame, ``gop - 1`` frames without a new one."""
    return key_value if gop == 1 else (key_value + (gop - 1) * other_value) / gop


def frame_model(instructions: list, specs: dict[str, dict], board: Board, clock_mhz: float,
                pixels: int, port_bytes: int | None = None,
                host_us: float = HOST_US_PER_INSTRUCTION, gop: int = 1) -> dict:
    """Modeled latency, fps, DSP utilisation, DDR bytes and µJ per pixel of one frame, averaged
    over a GOP of ``gop`` frames (key-phase instructions run on its first frame only)."""
    mhz, key, other = _gop_runs(instructions, specs, board, clock_mhz, port_bytes, host_us, gop)
    cycles = _per_frame(key["cycles"], other["cycles"], gop)
    makespan = _per_frame(key["makespan"], other["makespan"], gop)
    ddr_cycles = _per_frame(key["ddr_cycles"], other["ddr_cycles"], gop)
    ddr_bytes = _per_frame(key["ddr_bytes"], other["ddr_bytes"], gop)
    macs = _per_frame(key["macs"], other["macs"], gop)
    by_kind = {kind: _per_frame(key["ddr_by_kind"].get(kind, 0),
                                other["ddr_by_kind"].get(kind, 0), gop)
               for kind in sorted(key["ddr_by_kind"])}
    busy = {engine: _per_frame(key["busy"][engine], other["busy"][engine], gop)
            for engine in specs}
    seconds = cycles / (mhz * 1e6)
    used = {engine: engine_resources(engine, spec) for engine, spec in specs.items()}
    resources = total_resources(used)
    power = board.power.watts(resources, mhz)
    lanes = sum(mac_lanes(engine, spec) for engine, spec in specs.items())
    ddr_joules = board.power.ddr_joules(ddr_bytes)
    joules = power["total"] * seconds + ddr_joules
    return {
        "label": "modeled",
        "clock_mhz": mhz,
        "instructions": len(instructions),
        "gop": gop,
        "key_instructions": sum(ins.phase == "key" for ins in instructions),
        "gop_frames": {  # gop 1: every frame is a key frame
            "key_frame": {"latency_s": key["cycles"] / (mhz * 1e6),
                          "ddr_bytes": key["ddr_bytes"], "conv_macs": key["macs"]},
            "other_frames": {"latency_s": other["cycles"] / (mhz * 1e6),
                             "ddr_bytes": other["ddr_bytes"], "conv_macs": other["macs"]},
        },
        "latency_cycles": round(cycles),
        "latency_s": seconds,
        "fps": 1 / seconds if seconds else float("inf"),
        "bound": "ddr" if ddr_cycles > makespan else "schedule",
        "engine_busy_cycles": busy,
        "conv_macs": macs,
        "mac_lanes": lanes,
        "dsp_peak_utilization": macs / (board.resources.DSP * cycles) if cycles else 0.0,
        # Of the packed peak: every DSP doing two int8 MACs per cycle (kernels/dsp_pack.h).
        "packed_peak_utilization": macs / (2 * board.resources.DSP * cycles) if cycles else 0.0,
        "lane_utilization": macs / (lanes * cycles) if cycles and lanes else 0.0,
        "ddr_bytes": ddr_bytes,
        "ddr_bytes_by_kind": by_kind,
        "resources": resources,
        "power_w": power,
        "ddr_energy_j": ddr_joules,
        "energy_j": joules,
        "uj_per_pixel": joules / pixels * 1e6,
        # The accelerator alone (PL static + dynamic), without the PS: how FPGA papers often
        # count; the whole-chip figure above is the honest system number.
        "uj_per_pixel_pl": (power["pl_static"] + power["pl_dynamic"]) * seconds / pixels * 1e6,
        "assumptions": {
            "port_bytes_per_cycle": port_bytes if port_bytes is not None else {
                engine: ENGINE_PORT_BYTES.get(engine, KERNEL_PORT_BYTES) for engine in specs},
            "host_us_per_instruction": host_us,
            "platform": PLATFORM["source"] + "; HP interconnect: two SmartConnects (public "
                        "post-synthesis breakdown, calibration.MAXI_ADAPTER's source)",
            "power": "Board.power.watts: PS static + dynamic, PL static, PL dynamic per "
                     "resource per MHz at default toggle rates; plus the DDR chips per byte "
                     f"moved ({board.power.ddr_j_per_byte.value * 1e12:g} pJ/byte, "
                     "an assumption: the board file's ddr_j_per_byte)",
            "dsp_peak": "1 int8 MAC per DSP48E1 per cycle; packed peak 2",
        },
    }


def frame_schedule(instructions: list, specs: dict[str, dict], board: Board, clock_mhz: float,
                   gop: int = 1, port_bytes: int | None = None,
                   host_us: float = HOST_US_PER_INSTRUCTION) -> dict:
    """The overlap schedule behind :func:`frame_model`'s latency, from the same runs.

    ``key_frame`` lists when each instruction starts and ends on a frame with a new key frame
    (cycles from the frame's start), with each engine's busy cycles, the cycles during which
    sets of engines run together, and the span without overlap (``serial_cycles``: every
    instruction issued after the previous one ended); ``other_frames`` is the span of a frame
    without a new key frame.
    ``latency_cycles`` is the GOP average, equal to frame_model's.
    """
    mhz, key, other = _gop_runs(instructions, specs, board, clock_mhz, port_bytes, host_us, gop)
    # Without overlap, each instruction's register writes would wait for the previous one.
    serial = sum(row["cycles"] for row in key["rows"]) + len(key["rows"]) * round(host_us * mhz)
    return {
        "label": "modeled",
        "clock_mhz": mhz,
        "gop": gop,
        "latency_cycles": round(_per_frame(key["cycles"], other["cycles"], gop)),
        "key_frame": {
            "cycles": key["cycles"],
            "makespan": key["makespan"],
            "serial_cycles": serial,
            "overlap_gain": round(serial / key["makespan"], 4) if key["makespan"] else 1.0,
            "engine_busy_cycles": dict(sorted(key["busy"].items())),
            "concurrent": _concurrent(key["rows"]),
            "instructions": [{"index": index, **row} for index, row in enumerate(key["rows"])],
        },
        "other_frames": {"cycles": other["cycles"], "makespan": other["makespan"],
                         "instructions": other["instructions"]},
    }


def _concurrent(rows: list[dict]) -> dict[str, int]:
    """Cycles per set of two or more engines busy at the same time ("conv+keypoint": cycles)."""
    edges = sorted({row["start"] for row in rows} | {row["end"] for row in rows})
    together: dict[str, int] = {}
    for low, high in zip(edges, edges[1:]):
        active = sorted({r["engine"] for r in rows if r["start"] <= low and high <= r["end"]})
        if len(active) > 1:
            key = "+".join(active)
            together[key] = together.get(key, 0) + high - low
    return dict(sorted(together.items()))
