"""What the benchmarks that build the decoder themselves share: a random-init decoder at a
workflow file's geometry, quantized on random frames, and compiled for the emulated engines."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from grace_flow.compile.stage import compile_program
from grace_flow.config import load_workflow
from grace_flow.csim.emulated import emulated_runner, load_engines
from grace_flow.engines.program import Program
from grace_flow.engines.registers import ENGINES
from grace_flow.model import AGCDecoder
from grace_flow.model.stage import geometry
from grace_flow.quant.calibrate import calibrate
from grace_flow.quant.fuse import fuse
from grace_flow.quant.ptq import quantize_graph

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = {"default": ROOT / "workflow.yaml", "vox-256": ROOT / "workflows" / "vox256.yaml"}


def random_decoder(workflow_path: Path, frames: int):
    """(float decoder, clips, keypoints, quantized graph): a seeded random-init decoder at the
    geometry of ``workflow_path``, calibrated with minmax on ``frames`` random frame pairs."""
    workflow = load_workflow(workflow_path)
    size, shape = workflow.data.frame_size, geometry(workflow.model)["decoder"]
    torch.manual_seed(0)
    decoder = AGCDecoder(**shape).eval()
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (frames, 2, size, size, 3), dtype=np.uint8)
    keypoints = rng.uniform(-0.8, 0.8, (frames, 2, shape["num_kp"], 2)).astype(np.float16)
    graph = fuse(decoder, size)
    rows = np.array([[c, 0, 1] for c in range(frames)])
    qgraph = quantize_graph(
        graph, calibrate(graph, clips, keypoints, rows, observer="minmax", percentile=100.0))
    return decoder, clips, keypoints, qgraph


def emulated_decoder(qgraph, folder: Path, pixels: int):
    """(program, engine libraries, program runner): ``qgraph`` compiled into ``folder`` with every
    engine on auto, for latency, and loaded on the C-sim engines built there."""
    qgraph.save(folder / "q.json", folder / "q.npz")
    out = folder / "compile"
    compile_program(
        folder / "q.json", folder / "q.npz", ROOT / "constraints" / "boards" / "pynq-z1.yaml",
        *(out / name for name in ("program.bin", "program.json", "weights.bin", "schedule.json",
                                  "pareto.json")),
        {engine: out / "specs" / f"{engine}.json" for engine in ENGINES},
        {engine: out / "requirements" / f"{engine}.json" for engine in ENGINES},
        engine_settings={}, clock_mhz=100.0, margin=0.1, objective="latency", gop=1,
        pixels=pixels, alignment=64)
    program = Program.load(out / "program.json")
    libraries = load_engines(out / "specs", folder / "build",
                             [i.engine for i in program.instructions])
    return program, libraries, emulated_runner(program, (out / "weights.bin").read_bytes(),
                                               libraries)


def fastest(run, times: int) -> float:
    """Seconds of the fastest of ``times`` calls ``run(n)``, after a warm-up call (first-call
    costs: allocation, library loading, torch's kernel set-up). The machine may be shared: the
    fastest call is the least disturbed."""
    run(0)
    seconds = []
    for n in range(times):
        start = time.perf_counter()
        run(n)
        seconds.append(time.perf_counter() - start)
    return min(seconds)
