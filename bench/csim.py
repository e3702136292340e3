"""Time the emulated co-processor against the PyTorch float decoder, per frame.

Usage: .venv/bin/python bench/csim.py
A random-init decoder at the geometry of workflow.yaml, calibrated with minmax on random
frames, compiled with every engine on auto and run on the C-sim engines. After one warm-up
frame each, FRAMES frames are timed; prints s/frame of both, their ratio, the conv MACs of the
program and the MAC/s the emulation reaches.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from grace_flow.compile.hazards import conv_geometry
from grace_flow.engines.program import Program
from grace_flow.compile.stage import compile_program
from grace_flow.csim.emulated import emulated_runner, load_engines
from grace_flow.model import AGCDecoder
from geometry import workflow_geometry
from grace_flow.quant.calibrate import calibrate, float_inputs
from grace_flow.quant.fuse import fuse
from grace_flow.quant.ptq import quantize_graph

FRAMES = 5
ROOT = Path(__file__).resolve().parents[1]
SIZE, GEOMETRY = workflow_geometry(ROOT / "workflow.yaml")


def conv_macs(program: Program) -> int:
    """Multiply-accumulates of every conv instruction: out_c · in_c · k² · Ho · Wo."""
    total = 0
    for ins in program.instructions:
        if ins.engine == "conv":
            r = ins.registers
            ho, wo, _, _ = conv_geometry(r)
            total += r["out_c"] * r["in_c"] * r["kernel"] ** 2 * ho * wo
    return total


def _per_frame(run, frames: int) -> float:
    run(0)  # warm-up: first-call costs (allocation, library loading) are not per frame
    start = time.perf_counter()
    for n in range(frames):
        run(n)
    return (time.perf_counter() - start) / frames


def main() -> None:
    torch.manual_seed(0)
    decoder = AGCDecoder(**GEOMETRY).eval()
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (FRAMES, 2, SIZE, SIZE, 3), dtype=np.uint8)
    keypoints = rng.uniform(-0.8, 0.8, (FRAMES, 2, GEOMETRY["num_kp"], 2)).astype(np.float16)
    graph = fuse(decoder, SIZE)
    rows = np.array([[c, 0, 1] for c in range(FRAMES)])
    qgraph = quantize_graph(
        graph, calibrate(graph, clips, keypoints, rows, observer="minmax", percentile=100.0)
    )
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        qgraph.save(folder / "q.json", folder / "q.npz")
        out = folder / "compile"
        engines = ("conv", "grid_sample", "upsample", "elementwise", "keypoint")
        compile_program(
            folder / "q.json",
            folder / "q.npz",
            ROOT / "constraints" / "boards" / "pynq-z1.yaml",
            *(out / name for name in ("program.bin", "program.json", "weights.bin",
                                      "schedule.json", "pareto.json")),
            {engine: out / "specs" / f"{engine}.json" for engine in engines},
            {engine: out / "requirements" / f"{engine}.json" for engine in engines},
            engine_settings={},
            clock_mhz=100.0,
            margin=0.1,
            objective="latency",
            gop=1,
            pixels=SIZE * SIZE,
            alignment=64,
        )
        program = Program.load(folder / "compile" / "program.json")
        engines = load_engines(
            folder / "compile" / "specs", folder / "build", [i.engine for i in program.instructions]
        )
        emulator = emulated_runner(program, (folder / "compile" / "weights.bin").read_bytes(),
                                   engines)
        emulated = _per_frame(
            lambda n: emulator.run_decoder(clips[n, 0], keypoints[n, 0], keypoints[n, 1]), FRAMES
        )

    def float_frame(n: int) -> None:
        with torch.no_grad():
            decoder(
                *float_inputs(clips[n : n + 1, 0], keypoints[n : n + 1, 0], keypoints[n : n + 1, 1])
            )

    real = _per_frame(float_frame, FRAMES)
    macs = conv_macs(program)
    print(
        f"torch threads {torch.get_num_threads()}, {len(program.instructions)} instructions, "
        f"{FRAMES} frames each"
    )
    print(
        f"{'emulated s/frame':>18}{'float s/frame':>16}{'ratio':>8}{'conv MACs':>14}"
        f"{'emulated MAC/s':>16}"
    )
    print(
        f"{emulated:>18.4f}{real:>16.4f}{emulated / real:>8.1f}{macs:>14,}{macs / emulated:>16.3e}"
    )


if __name__ == "__main__":
    main()
