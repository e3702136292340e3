"""Everything the validate stage reads, for the tiny board: references, synth and codec reports.

The reference is made by the validate stage's own rules from the tiny decoder's golden model
(optionally another decoder's, to make the target disagree); the tiny board has no float model,
so the "float" frames are the golden ones as a receiver shows them. synth:system is the estimate
toolchain's real report; the bitrate is the codec's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from board_support import GOP, TinyBoard
from decoder_support import tiny_qgraph
from repo_paths import BOARD_FILE

from grace_flow.codec import bitrate, decode_file
from grace_flow.fsutil import atomic_save_npz
from grace_flow.quant.golden import run_golden
from grace_flow.runtime.decode import frame_inputs, frame_sha256
from grace_flow.synth.stage import synth_engine_report, synth_system_report
from grace_flow.validate.quality import displayed


def write_reference(board: TinyBoard, path: Path, qgraph) -> Path:
    arrays = {}
    for index, (bitstream, original) in enumerate(zip(board.bitstreams, board.originals)):
        clip = decode_file(bitstream)
        golden = run_golden(qgraph, *frame_inputs(clip))[qgraph.outputs["prediction"]]
        shown = displayed(golden, np.repeat(clip.key_frames, clip.gop, axis=0)[:len(golden)],
                          clip.gop)
        arrays |= {f"golden_{index:03d}": golden, f"float_{index:03d}": shown,
                   f"golden_sha256_{index:03d}": np.array([frame_sha256(f) for f in golden]),
                   f"original_{index:03d}": original, f"gop_{index:03d}": np.array(clip.gop)}
    atomic_save_npz(path, **arrays)
    return path


def validation_inputs(board: TinyBoard, folder: Path, reference_seed: int = 0) -> dict:
    """Keyword arguments of validate_deployment but the receipt, target and thresholds."""
    folder.mkdir(parents=True, exist_ok=True)
    qgraph = board.qgraph if reference_seed == 0 else tiny_qgraph(reference_seed)
    qgraph.save(folder / "q.json", folder / "q.npz")
    compiled, reports = board.folder / "compile", {}
    for spec in sorted((compiled / "specs").glob("*.json")):
        reports[spec.stem] = folder / "synth" / f"{spec.stem}.json"
        synth_engine_report(spec.stem, spec, board.folder / "hls" / spec.stem, BOARD_FILE, 100.0,
                            "estimate", folder / "synth" / spec.stem, reports[spec.stem])
    synth_system_report(reports, {e: compiled / "specs" / f"{e}.json" for e in reports},
                        compiled / "program.json", BOARD_FILE, folder / "synth" / "system.json",
                        folder / "synth" / "system", clock_mhz=100.0, margin=0.1,
                        toolchain="estimate", pixels=32 * 32, gop=GOP)
    per_clip = [bitrate(p.read_bytes(), frame_count=len(o), width=32, height=32, fps=25)
                for p, o in zip(board.bitstreams, board.originals)]
    (folder / "bitrate.json").write_text(json.dumps({
        "clips": len(per_clip), "gop": GOP, "fps": 25.0, "key_frame_quality": 90,
        "mean_bits_per_pixel": float(np.mean([c["bits_per_pixel"] for c in per_clip])),
        "mean_kbps": float(np.mean([c["kbps"] for c in per_clip])), "per_clip": per_clip}))
    return {
        "reference_npz": write_reference(board, folder / "reference.npz", qgraph),
        "bitstreams": board.bitstreams, "program_json": compiled / "program.json",
        "qgraph_json": folder / "q.json", "qparams_npz": folder / "q.npz",
        "manifest_json": board.package / "manifest.json",
        "system_report": folder / "synth" / "system.json",
        "schedule_json": compiled / "schedule.json", "bitrate_json": folder / "bitrate.json",
        "board_path": BOARD_FILE, "workflow": "tiny", "workflow_hash": "c" * 64,
        "report_path": folder / "validate" / "report.json", "report_html": folder / "report.html",
    }


#: validate: thresholds the tiny random decoder passes (it reconstructs poorly: no PSNR floor).
SETTINGS = {"bit_exact": True, "min_psnr_db": None, "max_float_gap_db": 1.0, "min_fps": 25.0,
            "max_uj_per_pixel": None, "report_clips": 2}
