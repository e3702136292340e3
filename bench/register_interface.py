"""What driving the emulated engines through their register windows costs, per frame.

Usage: .venv/bin/python bench/register_interface.py
A random-init decoder at the geometry of workflow.yaml (as bench/csim.py builds it) runs FRAMES
frames twice after a warm-up (the fastest frame of each): through the runtime's program runner over EmulatedHardware (register
writes, ap_start, ap_done polling, status: what the board does), and as bare calls of each
engine's C-sim entry point in program order (no register interface). Prints both s/frame, their
ratio, and the register writes per frame.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from decoder_setup import WORKFLOWS, emulated_decoder, fastest, random_decoder
from grace_flow.runtime.host import write_inputs

FRAMES = 5


def main() -> None:
    _, clips, keypoints, qgraph = random_decoder(WORKFLOWS["default"], FRAMES)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        program, libraries, runner = emulated_decoder(qgraph, folder,
                                                      clips.shape[2] * clips.shape[3])
        through_registers = fastest(
            lambda n: runner.run_decoder(clips[n, 0], keypoints[n, 0], keypoints[n, 1]), FRAMES)
        ddr = runner.ddr.copy()
        packed = [libraries[i.engine].pack(i.registers) for i in program.instructions]

        def bare(n: int) -> None:
            write_inputs(ddr, program, clips[n, 0], keypoints[n, 0], keypoints[n, 1])
            for ins, values in zip(program.instructions, packed):
                libraries[ins.engine].call(ddr, values)

        direct = fastest(bare, FRAMES)
    writes = sum(len(w) + 1 for w in runner._writes)
    print(f"{len(program.instructions)} instructions, {writes} register writes per frame, "
          f"{FRAMES} frames each")
    print(f"{'registers s/frame':>18}{'bare calls s/frame':>20}{'ratio':>8}")
    print(f"{through_registers:>18.4f}{direct:>20.4f}{through_registers / direct:>8.3f}")


if __name__ == "__main__":
    main()
