"""The csim:decoder stage: every frame of the test bitstreams, bit for bit.

Each test clip is decoded from its AGC bitstream exactly as a receiver would (HEVC key frame,
FP16 keypoints), then every frame runs twice: on the emulated co-processor (the C-sim engines
behind the register interface; the key-phase instructions only on the first frame of each GOP,
as on the board) and on the integer golden model (which recomputes everything for every frame).
Every tensor must match; the first difference is named by engine, instruction, tensor and index.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_write_text


class CsimMismatch(FlowError):
    """The emulated co-processor and the golden model disagree."""


def csim_test_clips(program_dir: Path, specs_dir: Path, build_dir: Path, qgraph_json: Path,
                    qparams_npz: Path, bitstreams: list[Path], report_path: Path) -> dict:
    """Run every frame of ``bitstreams`` on the emulator and the golden model; write the report.

    Raises :class:`CsimMismatch` (after writing the report) when any tensor differs.
    """
    from grace_flow.codec import decode_file
    from grace_flow.engines.program import Program
    from grace_flow.csim.emulator import (Emulator, compare_with_golden, load_engines,
                                          mismatch_text)
    from grace_flow.quant.golden import run_golden
    from grace_flow.quant.qgraph import QuantizedGraph

    program_dir = Path(program_dir)
    program = Program.load(program_dir / "program.json")
    engines = load_engines(specs_dir, build_dir, [i.engine for i in program.instructions])
    emulator = Emulator(program, (program_dir / "weights.bin").read_bytes(), engines)
    qgraph = QuantizedGraph.load(qgraph_json, qparams_npz)
    frames, seconds, first = 0, 0.0, None
    for path in bitstreams:
        clip = decode_file(path)
        keypoints = clip.keypoints.astype(np.float16)
        key_index = np.arange(clip.frame_count) // clip.gop
        sources, kp_sources = clip.key_frames[key_index], keypoints[key_index * clip.gop]
        golden = run_golden(qgraph, sources, kp_sources, keypoints)
        for t in range(clip.frame_count):
            start = time.perf_counter()
            _, tensors = emulator.run_decoder(sources[t], kp_sources[t], keypoints[t],
                                              every_tensor=True,
                                              new_key_frame=t % clip.gop == 0)
            seconds += time.perf_counter() - start
            frames += 1
            mismatch = compare_with_golden(program, tensors,
                                           {name: value[t] for name, value in golden.items()})
            if mismatch and first is None:
                first = {"bitstream": Path(path).name, "frame": t, **mismatch}
    report = {
        "frames": frames,
        "bit_exact": first is None,
        "first_mismatch": first,
        "instructions_per_frame": len(program.instructions),
        "key_instructions": sum(ins.phase == "key" for ins in program.instructions),
        "seconds_per_frame": round(seconds / max(frames, 1), 6),
    }
    atomic_write_text(report_path, json.dumps(report, indent=1, default=str) + "\n")
    if first is not None:
        raise CsimMismatch(f"csim:decoder: {first['bitstream']} frame {first['frame']}: "
                           f"{mismatch_text(first)}; report: {report_path}")
    return report
