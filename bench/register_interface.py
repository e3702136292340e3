"""What driving the emulated engines through their register windows costs, per frame.

Usage: .venv/bin/python bench/register_interface.py
A random-init decoder at the geometry of workflow.yaml (as bench/csim.py builds it) runs FRAMES
frames twice after a warm-up: through the runtime's program runner over EmulatedHardware (register
writes, ap_start, ap_done polling, status: what the board does), and as bare calls of each
engine's C-sim entry point in program order (no register interface). Prints both s/frame, their
ratio, and the register writes per frame.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from grace_flow.compile.stage import compile_program
from grace_flow.csim.emulated import emulated_runner, load_engines
from grace_flow.engines.program import Program
from grace_flow.model import AGCDecoder
from grace_flow.model.stage import workflow_geometry
from grace_flow.quant.calibrate import calibrate
from grace_flow.quant.fuse import fuse
from grace_flow.quant.ptq import quantize_graph
from grace_flow.runtime.host import write_inputs

FRAMES = 5
SIZE, GEOMETRY = workflow_geometry(Path(__file__).resolve().parents[1] / "workflow.yaml")


def _per_frame(run) -> float:
    run(0)
    start = time.perf_counter()
    for n in range(FRAMES):
        run(n)
    return (time.perf_counter() - start) / FRAMES


def main() -> None:
    torch.manual_seed(0)
    decoder = AGCDecoder(**GEOMETRY).eval()
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (FRAMES, 2, SIZE, SIZE, 3), dtype=np.uint8)
    keypoints = rng.uniform(-0.8, 0.8, (FRAMES, 2, GEOMETRY["num_kp"], 2)).astype(np.float16)
    graph = fuse(decoder, SIZE)
    rows = np.array([[c, 0, 1] for c in range(FRAMES)])
    qgraph = quantize_graph(
        graph, calibrate(graph, clips, keypoints, rows, observer="minmax", percentile=100.0))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        qgraph.save(folder / "q.json", folder / "q.npz")
        compile_program(folder / "q.json", folder / "q.npz", folder / "compile",
                        engine_settings={}, ddr_limit=512 << 20, alignment=64)
        program = Program.load(folder / "compile" / "program.json")
        weights = (folder / "compile" / "weights.bin").read_bytes()
        libraries = load_engines(folder / "compile" / "specs", folder / "build",
                                 [i.engine for i in program.instructions])
        runner = emulated_runner(program, weights, libraries)
        through_registers = _per_frame(
            lambda n: runner.run_decoder(clips[n, 0], keypoints[n, 0], keypoints[n, 1]))
        ddr = runner.ddr.copy()
        packed = [libraries[i.engine].pack(i.registers) for i in program.instructions]

        def bare(n: int) -> None:
            write_inputs(ddr, program, clips[n, 0], keypoints[n, 0], keypoints[n, 1])
            for ins, values in zip(program.instructions, packed):
                libraries[ins.engine].call(ddr, values)

        direct = _per_frame(bare)
    writes = sum(len(w) + 1 for w in runner._writes)
    print(f"{len(program.instructions)} instructions, {writes} register writes per frame, "
          f"{FRAMES} frames each")
    print(f"{'registers s/frame':>18}{'bare calls s/frame':>20}{'ratio':>8}")
    print(f"{through_registers:>18.4f}{direct:>20.4f}{through_registers / direct:>8.3f}")


if __name__ == "__main__":
    main()
