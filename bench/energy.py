"""Modeled speed and energy of a workflow's decoder on its board, next to the GRACE paper's figure.

    .venv/bin/python bench/energy.py [workflows/vox256.yaml]

Brings the workflow's `compile` task up to date with doit (the first vox-256 run quantizes a
random-init 46 M-parameter decoder: a few minutes), then models the compiled program with the
estimate backend: the folding the design-space search chose, and every Pareto point it kept.
Every figure is "modeled": no board, no vendor tools here. Two per-frame figures: every frame
recomputing the key-phase work (the key frame's features: pixel table, encoder, the motion
network's downsample of the source), and that work done once per GOP of `codec.gop` frames (its
outputs stay in DDR), averaged over the GOP. The search's Pareto points are the all-in figure.
Two bounds follow: the energy floor (every DSP doing two packed MACs per cycle) and the DSP-peak
ceiling (the most MAC lanes any conv folding fits beside the other engines, every lane busy). The
last line sums up the chosen point at the workflow's GOP.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grace_flow.engines.program import Program  # noqa: E402
from grace_flow.config import board_file, load_workflow  # noqa: E402
from grace_flow.perf.board import load_board  # noqa: E402
from grace_flow.perf.budget import BudgetError, check_budget  # noqa: E402
from grace_flow.perf.search import most_mac_lanes  # noqa: E402
from grace_flow.perf.estimate import engine_resources  # noqa: E402
from grace_flow.perf.frame import PAPER_UJ_PER_PIXEL, frame_model  # noqa: E402


def line(frame: dict, board, gop_note: str = "") -> str:
    """One modeled frame as text."""
    uj = frame["uj_per_pixel"]
    return (f"frame {frame['latency_s']:.3f} s ({frame['fps']:.3f} fps, bound by "
            f"{frame['bound']}); {100 * frame['packed_peak_utilization']:.1f} % of the packed "
            f"DSP peak ({board.resources.DSP} DSP x 2 MACs; goal 50 %, stretch 80 %; "
            f"{100 * frame['dsp_peak_utilization']:.1f} % of 1 MAC per DSP; MAC lanes "
            f"{100 * frame['lane_utilization']:.1f} % busy); DDR {frame['ddr_bytes'] / 1e6:.1f} "
            f"MB/frame; power {frame['power_w']['total']:.2f} W + DDR chips "
            f"{frame['ddr_energy_j'] * 1e3:.1f} mJ/frame; {uj:.1f} uJ/pixel whole chip vs paper "
            f"{PAPER_UJ_PER_PIXEL} -> {uj / PAPER_UJ_PER_PIXEL:.1f}x (accelerator alone, PL power "
            f"only: {frame['uj_per_pixel_pl']:.1f} uJ/pixel){gop_note}")


def ddr_table(frame: dict) -> list[str]:
    """DDR bytes per frame by layer kind, largest first."""
    total = frame["ddr_bytes"]
    rows = sorted(frame["ddr_bytes_by_kind"].items(), key=lambda item: -item[1])
    return [f"    {kind:<24} {moved / 1e6:9.1f} MB  {100 * moved / total:5.1f} %"
            for kind, moved in rows if moved]


def main(workflow_path: Path) -> None:
    """Compile the workflow (doit) and print the modeled figures of its program."""
    workflow = load_workflow(workflow_path)
    subprocess.run([sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py"), "-d", str(ROOT),
                    f"workflow={workflow_path}", "compile"], check=True, stdout=subprocess.DEVNULL)
    folder = ROOT / "artifacts" / workflow.name / "compile"
    program = Program.load(folder / "program.json")
    specs = {path.stem: json.loads(path.read_text()) for path in (folder / "specs").glob("*.json")}
    board = load_board(board_file(workflow_path, workflow))
    mhz, pixels = workflow.synth.clock_mhz, workflow.data.frame_size ** 2
    print(f"{workflow.name}: {workflow.data.frame_size}x{workflow.data.frame_size}, "
          f"{len(program.instructions)} instructions per frame, {board.name} at {mhz:g} MHz, "
          f"modeled (estimate backend, compiled program)")
    used = {engine: engine_resources(engine, spec) for engine, spec in sorted(specs.items())}
    try:
        verdict = f"fits: {check_budget(used, board, workflow.synth.margin)}"
    except BudgetError as err:
        verdict = f"DOES NOT FIT: {err}"
    conv = specs["conv"]
    print(f"\nchosen folding: conv unroll_in {conv['unroll_in']} x unroll_out {conv['unroll_out']}"
          f" = {conv['unroll_in'] * conv['unroll_out']} MAC lanes, {conv['macs_per_dsp']} MAC(s) "
          f"per DSP48E1 ({engine_resources('conv', conv)['DSP']} conv DSP), in_block "
          f"{conv['in_block']}, tile_rows {conv['tile_rows']}, requant_lanes "
          f"{conv['requant_lanes']}; grid_sample "
          f"unroll_channels {specs['grid_sample']['unroll_channels']}; budget (margin "
          f"{workflow.synth.margin:g}) {verdict}")
    gop = workflow.codec.gop
    chosen = frame_model(program.instructions, specs, board, mhz, pixels)
    amortised = frame_model(program.instructions, specs, board, mhz, pixels, gop=gop)
    key = amortised["gop_frames"]
    print(f"  every frame recomputes the key work: {line(chosen, board)}")
    print(f"  key work once per GOP of {gop}: {line(amortised, board)}")
    print(f"    ({amortised['key_instructions']} key instructions; a key frame "
          f"{key['key_frame']['latency_s']:.3f} s, {key['key_frame']['conv_macs'] / 1e9:.1f} GMAC; "
          f"the other frames {key['other_frames']['latency_s']:.3f} s, "
          f"{key['other_frames']['conv_macs'] / 1e9:.1f} GMAC)")
    print(f"  DDR bytes by layer kind (key work once per GOP of {gop}; DDR chips "
          f"{board.power.ddr_j_per_byte.value * 1e12:g} pJ/byte, an assumption):")
    print("\n".join(ddr_table(amortised)))
    front = json.loads((folder / "pareto.json").read_text())
    if front:
        print(f"\nPareto points of the search ({workflow.synth.objective}):")
        for row in front:
            choice = " ".join(f"{k}={v}" for k, v in row["choice"].items())
            print(f"  {choice}: binding resource {100 * row['binding']:.1f} %, "
                  f"{row['latency_s']:.3f} s, {row['uj_per_pixel']:.1f} uJ/pixel")
    # Floor: every DSP doing 2 packed MACs per cycle at the fastest clock, with only the PS and PL
    # static power plus the DSPs' own dynamic power.
    top = max(board.clocks.choices_mhz)
    power = board.power.watts({"DSP": board.resources.DSP}, top)
    watts, pl_watts = power["total"], power["pl_static"] + power["pl_dynamic"]
    print()
    for label, frame in (("every frame", chosen), (f"GOP of {gop}", amortised)):
        seconds = frame["conv_macs"] / (2 * board.resources.DSP * top * 1e6)
        print(f"floor ({label}): "
              f"{frame['conv_macs'] / 1e9:.1f} GMAC/frame on all {board.resources.DSP} DSP x 2 "
              f"packed MACs at {top:g} MHz = {seconds:.3f} s at {watts:.2f} W -> "
              f"{watts * seconds / pixels * 1e6:.1f} uJ/pixel (PL only {pl_watts:.2f} W -> "
              f"{pl_watts * seconds / pixels * 1e6:.1f}; paper {PAPER_UJ_PER_PIXEL})")
    # Ceiling: the most MAC lanes any conv folding fits beside the other engines, all busy (the
    # chosen folding fits the workflow's margin, so some folding does).
    peak = 2 * board.resources.DSP
    for margin in sorted({workflow.synth.margin, 0.0}, reverse=True):
        most = most_mac_lanes(specs, board, margin)
        used = ", ".join(f"{key} {value}" for key, value in most["resources"].items())
        print(f"ceiling (margin {margin:g}, {conv['macs_per_dsp']} MAC(s) per DSP): the most MAC "
              f"lanes any conv folding fits beside the other engines: {most['unroll_in']} x "
              f"{most['unroll_out']} = {most['lanes']} ({used}) -> at most "
              f"{100 * most['lanes'] / peak:.1f} % of the packed peak, every lane busy every "
              f"cycle (50 % needs {math.ceil(0.5 * peak)} lanes, 80 % {math.ceil(0.8 * peak)})")
    print(f"\nchosen (GOP of {gop}): {amortised['latency_s']:.3f} s, "
          f"{100 * amortised['packed_peak_utilization']:.1f} % of the packed peak, "
          f"{amortised['ddr_bytes'] / 1e6:.0f} MB DDR, {amortised['uj_per_pixel']:.1f} uJ/pixel "
          f"whole chip with the DDR chips ({amortised['uj_per_pixel_pl']:.1f} PL only)")
    print("assumptions:", chosen["assumptions"])


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "workflows" / "vox256.yaml").resolve())
