"""Time the emulated co-processor against the PyTorch float decoder, per frame.

Usage: .venv/bin/python bench/csim.py
Random-init decoders at the geometry of workflow.yaml and of workflows/vox256.yaml, calibrated
with minmax on random frames, compiled with every engine on auto and run on the C-sim engines.
After one warm-up frame each, FRAMES[geometry] frames are timed and the fastest is taken (every
frame runs the same program; the machine is shared, so the fastest is the least disturbed);
prints, per geometry, s/frame of both, their ratio, the conv MACs of the program and the MAC/s
the emulation reaches.
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

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = {"default": ROOT / "workflow.yaml", "vox-256": ROOT / "workflows" / "vox256.yaml"}
#: Timed frames per geometry (a vox-256 frame is ~600x the MACs of a default one).
FRAMES = {"default": 5, "vox-256": 2}


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
    """Seconds of the fastest of ``frames`` frames, after a warm-up frame (first-call costs:
    allocation, library loading, torch's kernel set-up)."""
    run(0)
    times = []
    for n in range(frames):
        start = time.perf_counter()
        run(n)
        times.append(time.perf_counter() - start)
    return min(times)


def measure(workflow_path: Path, frames: int) -> tuple[float, float, Program]:
    """(emulated s/frame, float s/frame, program) of a random-init decoder at the geometry of
    ``workflow_path``."""
    size, geometry = workflow_geometry(workflow_path)
    torch.manual_seed(0)
    decoder = AGCDecoder(**geometry).eval()
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (frames, 2, size, size, 3), dtype=np.uint8)
    keypoints = rng.uniform(-0.8, 0.8, (frames, 2, geometry["num_kp"], 2)).astype(np.float16)
    graph = fuse(decoder, size)
    rows = np.array([[c, 0, 1] for c in range(frames)])
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
            pixels=size * size,
            alignment=64,
        )
        program = Program.load(folder / "compile" / "program.json")
        engines = load_engines(
            folder / "compile" / "specs", folder / "build", [i.engine for i in program.instructions]
        )
        emulator = emulated_runner(program, (folder / "compile" / "weights.bin").read_bytes(),
                                   engines)
        emulated = _per_frame(
            lambda n: emulator.run_decoder(clips[n, 0], keypoints[n, 0], keypoints[n, 1]), frames
        )

    def float_frame(n: int) -> None:
        with torch.no_grad():
            decoder(
                *float_inputs(clips[n : n + 1, 0], keypoints[n : n + 1, 0], keypoints[n : n + 1, 1])
            )

    return emulated, _per_frame(float_frame, frames), program


def main() -> None:
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'geometry':<10}{'instructions':>13}{'frames':>7}{'emulated s/frame':>18}"
          f"{'float s/frame':>15}{'ratio':>7}{'conv MACs':>16}{'emulated MAC/s':>16}")
    for name, path in WORKFLOWS.items():
        emulated, real, program = measure(path, FRAMES[name])
        macs = conv_macs(program)
        print(f"{name:<10}{len(program.instructions):>13}{FRAMES[name]:>7}{emulated:>18.4f}"
              f"{real:>15.4f}{emulated / real:>7.2f}{macs:>16,}{macs / emulated:>16.3e}",
              flush=True)


if __name__ == "__main__":
    main()
