"""The validate stage on the emulated board and over SSH: bit-exactness by per-frame sha256,
the first differing instruction, thresholds, report.json; report.html in headless Chromium."""

from __future__ import annotations

import json
import re

import pytest
from browser import chromium, load_page
from validate_support import SETTINGS, validation_inputs

from grace_flow.deploy.stage import deploy_overlay
from grace_flow.validate.checks import CheckFailed
from grace_flow.validate.stage import ValidateError, validate_deployment

EMULATOR = {"target": "emulator"}


def _deployed(board, folder, settings=EMULATOR):
    receipt = folder / "receipt.json"
    deploy_overlay(board.package, receipt, settings=settings, emulator_dir=folder / "board",
                   base_dir=folder)
    return receipt


def _validate(receipt, folder, inputs, settings=EMULATOR, **thresholds):
    return validate_deployment(receipt_path=receipt, settings={**SETTINGS, **thresholds},
                               deploy_settings=settings, emulator_dir=folder / "board",
                               base_dir=folder, **inputs)


@pytest.fixture(scope="module")
def validated(tiny_board, tmp_path_factory):
    """The tiny package deployed on the emulator and validated: (folder, inputs, report)."""
    folder = tmp_path_factory.mktemp("validated")
    inputs = validation_inputs(tiny_board, folder / "inputs")
    report = _validate(_deployed(tiny_board, folder), folder, inputs)
    return folder, inputs, report


def test_emulated_deployment_is_bit_exact_and_reported(validated, tiny_board):
    folder, inputs, report = validated
    assert report["passed"] and report["backend"] == "emulated"
    frames = sum(len(g) for g in tiny_board.golden)
    assert report["bit_exact"] == {"frames": frames, "mismatched_frames": 0,
                                   "first_mismatch": None}
    assert [c["bit_exact"] for c in report["quality"]["per_clip"]] == [True, True]
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks) == ["bit_exact", "psnr", "float_gap", "fps", "energy", "resources"]
    assert checks["bit_exact"]["value"] == f"{frames} / {frames} frames"
    assert checks["psnr"]["passed"] is None and checks["fps"]["passed"] is True
    assert checks["fps"]["note"].startswith("modeled by synth:system")
    assert report["speed"]["measured_label"].startswith("emulated:")
    assert report["quality"]["psnr_target_vs_float"] == 100.0  # the stand-in float is golden
    assert report["energy"]["label"] == "modeled (the emulator has no power rails)"
    saved = json.loads(inputs["report_path"].read_text())
    assert saved == json.loads(json.dumps(report))
    assert inputs["report_html"].is_file()


def test_report_html_in_headless_chromium(validated, tmp_path):
    """No missing image, no console error, nothing loaded but the file and its data: images;
    the screenshot stays in the test's folder."""
    if chromium() is None:
        pytest.fail("chromium is missing: run `make test`, which installs it")
    _, inputs, _ = validated
    shot = tmp_path / "report.png"
    page = load_page(inputs["report_html"], shot, tmp_path / "profile")
    assert len(page["images"]) == 2 * 2 + 5  # per clip a grid and a strip; five plots
    assert all(image["complete"] and image["width"] > 0 for image in page["images"]), page
    assert page["console"] == [] and page["exceptions"] == [] and page["log_errors"] == []
    assert page["failed"] == []
    assert page["requests"][0] == inputs["report_html"].resolve().as_uri()
    assert all(url.startswith("data:image/") for url in page["requests"][1:])
    assert shot.stat().st_size > 50_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_mismatch_names_the_frame_and_the_first_instruction(tiny_board, tmp_path):
    """Golden references of another decoder: every frame differs; the first mismatch is named
    by file, frame and the instruction that first wrote a differing value."""
    inputs = validation_inputs(tiny_board, tmp_path / "inputs", reference_seed=5)
    receipt = _deployed(tiny_board, tmp_path)
    with pytest.raises(CheckFailed) as err:
        _validate(receipt, tmp_path, inputs)
    frames = sum(len(g) for g in tiny_board.golden)
    assert re.fullmatch(
        rf"validate: check bit_exact: 0 / {frames} frames misses = every frame "
        r"\(validate\.bit_exact\): test_000\.agc frame 0: \w+ instruction \d+ \([\w.]+\) tensor "
        r"[\w.]+ index \([\d, ]+\): got -?\d+, want -?\d+", str(err.value)), str(err.value)
    report = json.loads(inputs["report_path"].read_text())
    assert not report["passed"] and report["bit_exact"]["mismatched_frames"] == frames
    assert report["bit_exact"]["first_mismatch"]["frame"] == 0
    assert inputs["report_html"].is_file()  # the report shows what failed


def test_a_missed_threshold_is_one_line(validated, tmp_path):
    folder, inputs, _ = validated
    receipt = folder / "receipt.json"
    with pytest.raises(CheckFailed) as err:
        _validate(receipt, folder, {**inputs, "report_path": tmp_path / "r.json",
                                    "report_html": tmp_path / "r.html"}, min_fps=10_000.0)
    assert re.fullmatch(r"validate: check fps: [\d.]+ fps misses ≥ 10000\.0 fps "
                        r"\(validate\.min_fps\)", str(err.value)), str(err.value)


def test_validating_what_is_not_deployed_is_refused(validated, tmp_path):
    folder, inputs, _ = validated
    receipt = json.loads((folder / "receipt.json").read_text())
    stale = tmp_path / "receipt.json"
    stale.write_text(json.dumps({**receipt, "version": "0" * 16}))
    with pytest.raises(ValidateError) as err:
        _validate(stale, folder, {**inputs, "report_path": tmp_path / "r.json"})
    assert str(err.value) == (f"validate: emulator ({folder / 'board'}) runs version "
                              f"{receipt['version']}, the receipt says {'0' * 16}: run doit "
                              "deploy")


def test_validate_over_ssh_is_bit_exact(sshd, tiny_board, tmp_path):
    settings = sshd.settings(str(tmp_path / "board"))
    inputs = validation_inputs(tiny_board, tmp_path / "inputs")
    report = _validate(_deployed(tiny_board, tmp_path, settings), tmp_path, inputs, settings)
    assert report["passed"] and report["bit_exact"]["mismatched_frames"] == 0
    assert report["target"] == settings["target"]
