"""Modeled speed and energy of the vox-256 decoder on PYNQ-Z1, next to the GRACE paper's figure.

    .venv/bin/python bench/energy.py [workflows/vox256.yaml]

The compile stage (grace_flow/compile/lower.py) is not used yet: the instruction list is built
analytically from the workflow's layer shapes (FOMM's dense motion network and generator), one
instruction per engine op, chained in program order. The key frame's encoder (first conv and
down blocks) runs once per GOP and is reported apart, amortised. Every figure is "modeled".
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grace_flow.compile.program import Instruction  # noqa: E402
from grace_flow.config import board_file, load_workflow  # noqa: E402
from grace_flow.hls.spec import default_spec  # noqa: E402
from grace_flow.synth.board import load_board  # noqa: E402
from grace_flow.synth.budget import BudgetError, check_budget  # noqa: E402
from grace_flow.synth.estimate import engine_resources  # noqa: E402
from grace_flow.synth.frame import PAPER_UJ_PER_PIXEL, frame_model  # noqa: E402

RELU, POOL, UPSAMPLE, RESIDUAL = 1, 2, 4, 8


def width(expansion: int, cap: int, level: int) -> int:
    """Channels at a level: doubling per level, capped (grace_flow.model.blocks.level_width)."""
    return min(cap, expansion * 2**level)


class Builder:
    """Appends instructions, each depending on the previous one (a chain) unless told."""

    def __init__(self):
        self.out: list[Instruction] = []

    def add(self, engine: str, node: str, deps=None, **registers) -> int:
        """Append one instruction; return its index."""
        last = [len(self.out) - 1] if self.out else []
        self.out.append(Instruction(engine, node, registers, last if deps is None else deps))
        return len(self.out) - 1

    def conv(self, node, in_c, size, out_c, k, flags, deps=None):
        """A conv instruction; ``size`` is the input side before upsample."""
        return self.add("conv", node, deps, in_c=in_c, in_h=size, in_w=size, out_c=out_c,
                        kernel=k, stride=1, pad=k // 2, flags=flags)


def frame_program(model, frame_size: int) -> list[Instruction]:
    """Per-frame instructions: dense motion at scale_factor, warp, occlusion, bottleneck, up."""
    dm, gen, k = model.dense_motion, model.generator, model.num_kp
    m = int(frame_size * dm.scale_factor)
    b = Builder()
    b.add("keypoint", "heatmaps", [], mode=0, num_kp=k, height=m, width=m)
    b.add("keypoint", "sparse", [], mode=1, num_kp=k, height=m, width=m)
    warps = [b.add("grid_sample", f"motion_warp{i}", [1], channels=model.num_channels,
                   in_h=m, in_w=m, out_h=m, out_w=m) for i in range(k + 1)]
    channels, size, skips = (k + 1) * (model.num_channels + 1), m, []
    for i in range(dm.num_blocks):
        skips.append(channels)
        out_c = width(dm.block_expansion, dm.max_features, i + 1)
        b.conv(f"hg_down{i}", channels, size, out_c, 3, RELU | POOL,
               deps=[0, *warps] if i == 0 else None)
        channels, size = out_c, size // 2
    for level in reversed(range(dm.num_blocks)):
        out_c = width(dm.block_expansion, dm.max_features, level)
        b.conv(f"hg_up{level}", channels, size, out_c, 3, RELU | UPSAMPLE)
        channels, size = out_c + skips.pop(), size * 2
    hourglass = len(b.out) - 1
    b.conv("mask", channels, m, k + 1, 7, 0)
    b.add("elementwise", "softmax", mode=3, channels=k + 1, height=m, width=m)
    b.add("keypoint", "deformation", mode=2, channels=k + 1, height=m, width=m)
    b.conv("occlusion", channels, m, 1, 7, 0, deps=[hourglass])
    b.add("elementwise", "sigmoid", mode=1, channels=1, height=m, width=m, table_bytes=1)
    f = frame_size // 2**gen.num_down_blocks
    features = width(gen.block_expansion, gen.max_features, gen.num_down_blocks)
    if f != m:
        b.add("upsample", "deformation_resize", mode=1, channels=1, in_h=m, in_w=m,
              out_h=f, out_w=f)
    b.add("grid_sample", "feature_warp", channels=features, in_h=f, in_w=f, out_h=f, out_w=f)
    b.add("elementwise", "occlude", mode=2, channels=features, height=f, width=f)
    for i in range(gen.num_bottleneck_blocks):
        b.add("elementwise", f"res{i}_bn_relu", mode=0, channels=features, height=f, width=f,
              flags=1)
        b.conv(f"res{i}_conv1", features, f, features, 3, RELU)
        b.conv(f"res{i}_conv2", features, f, features, 3, RESIDUAL)
    channels, size = features, f
    for i in range(gen.num_down_blocks):
        out_c = width(gen.block_expansion, gen.max_features, gen.num_down_blocks - i - 1)
        b.conv(f"up{i}", channels, size, out_c, 3, RELU | UPSAMPLE)
        channels, size = out_c, size * 2
    b.conv("final", channels, size, model.num_channels, 7, 0)
    b.add("elementwise", "final_sigmoid", mode=1, channels=model.num_channels, height=size,
          width=size, table_bytes=1)
    return b.out


def key_frame_program(model, frame_size: int) -> list[Instruction]:
    """Once per key frame: the source's encoder (first conv, down blocks)."""
    gen, b = model.generator, Builder()
    b.add("elementwise", "pixels", mode=1, channels=model.num_channels, height=frame_size,
          width=frame_size, table_bytes=1, flags=1)
    b.conv("first", model.num_channels, frame_size, gen.block_expansion, 7, RELU)
    channels, size = gen.block_expansion, frame_size
    for i in range(gen.num_down_blocks):
        out_c = width(gen.block_expansion, gen.max_features, i + 1)
        b.conv(f"down{i}", channels, size, out_c, 3, RELU | POOL)
        channels, size = out_c, size // 2
    return b.out


def capacities(instructions: list[Instruction], unroll: tuple[int, int]) -> dict[str, dict]:
    """Specs just large enough for the instructions, conv folded ``unroll`` = (in, out)."""
    specs = {engine: default_spec(engine) for engine in
             ("conv", "grid_sample", "upsample", "elementwise", "keypoint")}
    convs = [i.registers for i in instructions if i.engine == "conv"]
    specs["conv"].update(
        max_in_channels=max(r["in_c"] for r in convs),
        max_out_channels=max(r["out_c"] for r in convs),
        max_width=max(r["in_w"] << ((r["flags"] >> 2) & 1) for r in convs),
        kernel_sizes=sorted({r["kernel"] for r in convs}), strides=[1],
        unroll_in=unroll[0], unroll_out=unroll[1], in_block=max(16, unroll[0]), tile_rows=4)
    grids = [i.registers for i in instructions if i.engine == "grid_sample"]
    specs["grid_sample"].update(max_channels=max(r["channels"] for r in grids),
                                max_width=max(r["in_w"] for r in grids), unroll_channels=1)
    return specs


def main(workflow_path: str) -> None:
    """Print the modeled figures of the workflow's decoder on its board."""
    workflow = load_workflow(workflow_path)
    board = load_board(board_file(workflow_path, workflow))
    mhz, size = workflow.synth.clock_mhz, workflow.data.frame_size
    frame = frame_program(workflow.model, size)
    key = key_frame_program(workflow.model, size)
    print(f"vox-256 decoder, modeled (estimate backend; instructions from layer shapes, not "
          f"from compile): {len(frame)} per frame, {len(key)} per key frame, "
          f"{board.name} at {mhz:g} MHz")
    for unroll in ((4, 4), (8, 4), (16, 4), (8, 8)):
        specs = capacities(frame + key, unroll)
        used = {e: engine_resources(e, s) for e, s in specs.items()}
        try:
            check_budget(used, board, workflow.synth.margin)
            verdict = "fits"
        except BudgetError as err:
            verdict = f"DOES NOT FIT: {err}"
        print(f"\nconv unroll_in {unroll[0]} x unroll_out {unroll[1]} "
              f"(conv max_in_channels {specs['conv']['max_in_channels']}, in_block "
              f"{specs['conv']['in_block']}, tile_rows {specs['conv']['tile_rows']}, max_width "
              f"{specs['conv']['max_width']}): budget {verdict}; conv {used['conv']}")
        for port in (None, 8):
            f = frame_model(frame, specs, board, mhz, size * size, port_bytes=port)
            k = frame_model(key, specs, board, mhz, size * size, port_bytes=port)
            gop = workflow.codec.gop
            uj = f["uj_per_pixel"] + k["uj_per_pixel"] / gop
            label = ("as written (conv 8 B/cycle, others 1)" if port is None
                     else "what-if every engine 8 B/cycle")
            print(f"  {label}: frame {f['latency_s']:.3f} s ({f['fps']:.2f} fps, bound by "
                  f"{f['bound']}), key frame +{k['latency_s']:.3f} s; DSP-peak use "
                  f"{100 * f['dsp_peak_utilization']:.1f} % of {board.resources.DSP} DSP "
                  f"(MAC lanes {100 * f['lane_utilization']:.1f} %, goal 80 %); DDR "
                  f"{f['ddr_bytes'] / 1e6:.1f} MB/frame; power {f['power_w']['total']:.2f} W; "
                  f"{uj:.1f} uJ/pixel (key frame amortised over GOP {gop}) vs paper "
                  f"{PAPER_UJ_PER_PIXEL} -> {uj / PAPER_UJ_PER_PIXEL:.1f}x")
    f = frame_model(frame, specs, board, mhz, size * size)
    # Floor: every DSP doing 2 packed MACs per cycle at the fastest clock, the PS and PL static
    # power plus the DSPs' own dynamic power only.
    top = max(board.clocks.choices_mhz)
    seconds = f["conv_macs"] / (2 * board.resources.DSP * top * 1e6)
    watts = board.power.watts({"DSP": board.resources.DSP}, top)["total"]
    print(f"\nfloor: {f['conv_macs'] / 1e9:.1f} GMAC/frame on all {board.resources.DSP} DSP x 2 "
          f"packed MACs at {top:g} MHz = {seconds:.3f} s at {watts:.2f} W -> "
          f"{watts * seconds / (size * size) * 1e6:.1f} uJ/pixel (paper {PAPER_UJ_PER_PIXEL})")
    print("assumptions:", f["assumptions"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "workflows" / "vox256.yaml"))
