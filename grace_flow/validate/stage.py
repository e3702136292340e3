"""The validate stage: the deployed package decodes the test bitstreams on the target; checks,
report.json and report.html.

Bit-exactness: the sha256 of every frame, computed on the target, against the golden model's
(validate:reference, on the host). On a mismatch the target decodes the first differing frame
again, keeping every tensor, and the host names the first instruction whose output differs.
Measured timings (the emulator's own speed) go into report.json and report.html only, which no
other task reads, so they never make anything rerun.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_save_npz, atomic_write_text, sha256_file
from grace_flow.runtime.decode import frame_sha256


class ValidateError(FlowError):
    """The target could not be validated (not deployed, unreachable, frames lost in transfer)."""


def _load_reference(path: Path) -> dict:
    with np.load(path) as data:
        count = len([k for k in data.files if k.startswith("gop_")])
        return {key: [data[f"{key}_{i:03d}"] for i in range(count)]
                for key in ("golden", "golden_sha256", "float", "original", "gop")}


def _target_frames(local: Path, facts: dict) -> list[np.ndarray]:
    """The downloaded frames, checked against the sha256 the target computed."""
    with np.load(local / "frames.npz") as data:
        frames = [data[f"clip_{i:03d}"] for i in range(len(facts["clips"]))]
    for clip, got in zip(facts["clips"], frames):
        if [frame_sha256(f) for f in got] != clip["sha256"]:
            raise ValidateError(f"validate: the frames of {clip['file']} changed between the "
                                "target and the host; rerun doit validate")
    return frames


def _first_mismatch(facts: dict, reference: dict) -> tuple[int, int] | None:
    for index, clip in enumerate(facts["clips"]):
        for frame, (got, want) in enumerate(zip(clip["sha256"], reference["golden_sha256"][index])):
            if got != want:
                return index, frame
    return None


def _name_instruction(local: Path, program_json: Path, qgraph_json: Path, qparams_npz: Path,
                      bitstream: Path, frame: int) -> str:
    """The first instruction whose output differs from the golden model on that frame."""
    from grace_flow.codec import decode_file
    from grace_flow.csim.mismatch import compare_with_golden, mismatch_text
    from grace_flow.engines.program import Program
    from grace_flow.quant.golden import run_golden
    from grace_flow.quant.qgraph import QuantizedGraph
    from grace_flow.runtime.decode import frame_inputs

    qgraph = QuantizedGraph.load(qgraph_json, qparams_npz)
    golden = run_golden(qgraph, *(x[frame:frame + 1] for x in frame_inputs(
        decode_file(bitstream))))
    with np.load(local / "tensors.npz") as data:
        tensors = {name: data[name] for name in data.files}
    mismatch = compare_with_golden(Program.load(program_json), tensors,
                                   {name: value[0] for name, value in golden.items()})
    return mismatch_text(mismatch) if mismatch else "every tensor equal (the output differs)"


def _decode(target, version: str, bitstreams: list[Path], local: Path, reference: dict,
            inputs: dict) -> tuple[dict, list[np.ndarray], dict]:
    from grace_flow.validate.target import decode_on_target

    facts = decode_on_target(target, version, bitstreams, local)
    frames = _target_frames(local, facts)
    first = _first_mismatch(facts, reference)
    mismatched = sum(got != want for clip, golden in zip(facts["clips"],
                                                         reference["golden_sha256"])
                     for got, want in zip(clip["sha256"], golden))
    exact = {"frames": sum(clip["frames"] for clip in facts["clips"]),
             "mismatched_frames": int(mismatched), "first_mismatch": None}
    if first is not None:
        index, frame = first
        decode_on_target(target, version, [bitstreams[index]], local / "mismatch", (0, frame))
        where = _name_instruction(local / "mismatch", inputs["program_json"],
                                  inputs["qgraph_json"], inputs["qparams_npz"],
                                  bitstreams[index], frame)
        exact["first_mismatch"] = {"file": Path(bitstreams[index]).name, "frame": frame,
                                   "instruction": where}
        exact["first_mismatch_text"] = f"{Path(bitstreams[index]).name} frame {frame}: {where}"
    return facts, frames, exact


def reference_frames(checkpoint: Path, clips_path: Path, qgraph_json: Path, qparams_npz: Path,
                     bitstreams: list[Path], out_path: Path) -> Path:
    """The references of validate:target, computed on the host. For every test bitstream,
    decoded as the target decodes it: the integer golden model's prediction of every frame (and
    its sha256, the bit-exactness reference), the float decoder's frames and the original frames
    (for quality). Key-frame positions of the float and original clips are what a receiver shows
    there (the decoded key frame); the golden frames are the co-processor's output for every
    frame, key frames included.

    Write out_path (.npz): per clip i, golden_{i} uint8 [T, 3, H, W], golden_sha256_{i},
    float_{i} and original_{i} uint8 [T, H, W, 3], gop_{i}."""
    from grace_flow.codec import decode_file
    from grace_flow.data import load_split
    from grace_flow.model import load_checkpoint
    from grace_flow.model.inference import reconstruct
    from grace_flow.quant.golden import run_golden
    from grace_flow.quant.qgraph import QuantizedGraph
    from grace_flow.runtime.decode import frame_inputs, frame_sha256

    decoder, _ = load_checkpoint(checkpoint)
    qgraph = QuantizedGraph.load(qgraph_json, qparams_npz)
    originals, _ = load_split(clips_path, "test")
    arrays = {}
    for index, (original, path) in enumerate(zip(originals, bitstreams)):
        clip = decode_file(path)
        golden = run_golden(qgraph, *frame_inputs(clip))[qgraph.outputs["prediction"]]
        arrays[f"golden_{index:03d}"] = golden
        arrays[f"golden_sha256_{index:03d}"] = np.array([frame_sha256(f) for f in golden])
        arrays[f"float_{index:03d}"] = reconstruct(decoder, clip)
        arrays[f"original_{index:03d}"] = original[:clip.frame_count]
        arrays[f"gop_{index:03d}"] = np.array(clip.gop)
    atomic_save_npz(out_path, **arrays)
    return Path(out_path)


def validate_deployment(*, receipt_path: Path, reference_npz: Path, bitstreams: list[Path],
                        program_json: Path, qgraph_json: Path, qparams_npz: Path,
                        manifest_json: Path, system_report: Path, schedule_json: Path,
                        bitrate_json: Path, board_path: Path, settings: dict,
                        deploy_settings: dict, emulator_dir: Path, base_dir: Path,
                        workflow: str, workflow_hash: str, report_path: Path,
                        report_html: Path) -> dict:
    """Validate what the receipt says is deployed; write report.json and report.html; raise
    the first failed check as one line (after writing both)."""
    from grace_flow.deploy.targets import on_target
    from grace_flow.perf.board import load_board
    from grace_flow.provenance import git_state
    from grace_flow.validate import checks, quality, sections
    from grace_flow.validate.html import render_report

    receipt = json.loads(Path(receipt_path).read_text())
    reference = _load_reference(reference_npz)
    inputs = {"program_json": program_json, "qgraph_json": qgraph_json,
              "qparams_npz": qparams_npz}

    def decode(target):
        current = target.op("status")["current"]
        if current != receipt["version"]:
            raise ValidateError(f"validate: {target.description} runs version {current}, the "
                                f"receipt says {receipt['version']}: run doit deploy")
        # The target's frames come back into a scratch folder: read here, kept nowhere.
        with tempfile.TemporaryDirectory() as scratch:
            return _decode(target, current, bitstreams, Path(scratch), reference, inputs)

    facts, frames, exact = on_target(decode, deploy_settings, emulator_dir, base_dir,
                                     "validate", ValidateError)
    shown = [quality.displayed(f, reference["float"][i], int(reference["gop"][i]))
             for i, f in enumerate(frames)]
    per_clip = []
    for i, clip in enumerate(facts["clips"]):
        rows = quality.clip_quality(shown[i], reference["float"][i], reference["original"][i],
                                    int(reference["gop"][i]))
        per_clip.append({"file": clip["file"], "bit_exact": clip["sha256"] == list(
            reference["golden_sha256"][i]), **rows})
    system = json.loads(Path(system_report).read_text())
    frame = system["frame"]
    schedule = json.loads(Path(schedule_json).read_text())["key_frame"]
    board = load_board(board_path)
    report = {
        "workflow": workflow, "target": receipt["target"], "package": receipt["package"],
        # Which deployment was validated: a later deploy (even of the same package) revalidates.
        "receipt_sha256": sha256_file(receipt_path),
        "backend": facts["backend"],
        "backend_text": "emulated engines (C-sim)" if facts["backend"] == "emulated"
        else "the FPGA (pynq)",
        "clips": len(facts["clips"]),
        "bit_exact": exact,
        "quality": {**quality.summary(per_clip), "per_clip": per_clip},
        "rate": sections.rate(json.loads(Path(bitrate_json).read_text())),
        "speed": sections.speed(facts, frame),
        "energy": sections.energy(facts, frame),
        "resources": sections.resources(system, board.resources.model_dump()),
        "latency": sections.latency(schedule, frame),
        "provenance": sections.provenance(receipt, json.loads(Path(manifest_json).read_text()),
                                          facts, git_state(base_dir), workflow_hash),
    }
    found = checks.run_checks(settings, exact, report["quality"], report["speed"],
                              report["energy"], report["resources"])
    report["checks"] = checks.as_records(found)
    report["passed"] = all(check.passed is not False for check in found)
    atomic_write_text(report_path, json.dumps(report, indent=1) + "\n")
    render_report(report, {"original": reference["original"], "float": reference["float"],
                           "target": shown}, schedule["instructions"], report_html,
                  settings["report_clips"])
    failure = checks.first_failure(found)
    if failure is not None:
        raise failure
    return report
