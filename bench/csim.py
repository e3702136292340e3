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
from pathlib import Path

import torch

from decoder_setup import WORKFLOWS, emulated_decoder, fastest, random_decoder
from grace_flow.compile.hazards import conv_geometry
from grace_flow.engines.program import Program
from grace_flow.quant.calibrate import float_inputs

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


def measure(workflow_path: Path, frames: int) -> tuple[float, float, Program]:
    """(emulated s/frame, float s/frame, program) of a random-init decoder at the geometry of
    ``workflow_path``."""
    decoder, clips, keypoints, qgraph = random_decoder(workflow_path, frames)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        program, _, emulator = emulated_decoder(qgraph, folder, clips.shape[2] * clips.shape[3])
        emulated = fastest(
            lambda n: emulator.run_decoder(clips[n, 0], keypoints[n, 0], keypoints[n, 1]), frames)

    def float_frame(n: int) -> None:
        with torch.no_grad():
            decoder(*float_inputs(clips[n:n + 1, 0], keypoints[n:n + 1, 0],
                                  keypoints[n:n + 1, 1]))

    return emulated, fastest(float_frame, frames), program


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
