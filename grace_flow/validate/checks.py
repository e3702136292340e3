"""The validate checks: each a value, a threshold from ``validate:`` and pass or fail.

A threshold left null makes a check "reported" (shown, never failing). Speed and energy are the
board's: measured on a board, the modeled figures of synth:system on the emulator (whose own
speed is reported beside them, labelled emulated, and never checked).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from grace_flow.errors import FlowError


class CheckFailed(FlowError):
    """A validate check missed its threshold."""


@dataclass
class Check:
    """One line of the report's check table."""

    name: str
    value: float | str
    threshold: float | str | None
    comparison: str  # "≥", "≤", "=" (what passing means)
    unit: str
    key: str  # the validate: key (or other section) holding the threshold
    passed: bool | None  # None: reported only (no threshold)
    note: str = ""


def _compare(value: float | None, threshold: float | None, comparison: str) -> bool | None:
    if threshold is None:
        return None
    if value is None:
        return False
    return value >= threshold if comparison == "≥" else value <= threshold


def run_checks(settings: dict, bit_exact: dict, quality: dict, speed: dict, energy: dict,
               resources: dict) -> list[Check]:
    """Every check of the validate stage from its measured (or modeled) figures."""
    exact = bit_exact["frames"] - bit_exact["mismatched_frames"]
    checks = [
        Check("bit_exact", f"{exact} / {bit_exact['frames']} frames", "every frame", "=", "",
              "validate.bit_exact", bit_exact["mismatched_frames"] == 0
              if settings["bit_exact"] else None, bit_exact.get("first_mismatch_text", "")),
        Check("psnr", quality["psnr_target"], settings["min_psnr_db"], "≥", "dB",
              "validate.min_psnr_db",
              _compare(quality["psnr_target"], settings["min_psnr_db"], "≥"),
              "target frames vs originals, predicted frames"),
        Check("float_gap", quality["float_gap_db"], settings["max_float_gap_db"], "≤", "dB",
              "validate.max_float_gap_db",
              _compare(quality["float_gap_db"], settings["max_float_gap_db"], "≤"),
              "float decoder's PSNR minus the target's"),
        Check("fps", round(speed["board_fps"], 2), settings["min_fps"], "≥", "fps",
              "validate.min_fps", _compare(speed["board_fps"], settings["min_fps"], "≥"),
              speed["board_fps_label"]),
        Check("energy", round(energy["uj_per_pixel"], 3), settings["max_uj_per_pixel"], "≤",
              "µJ/pixel", "validate.max_uj_per_pixel",
              _compare(energy["uj_per_pixel"], settings["max_uj_per_pixel"], "≤"),
              energy["label"]),
        Check("resources", ", ".join(resources["utilization"]),
              f"{100 * (1 - resources['margin']):g} % of each", "≤", "", "synth.margin",
              resources["within_budget"], resources["board"]),
    ]
    return checks


def as_records(checks: list[Check]) -> list[dict]:
    return [asdict(check) for check in checks]


def first_failure(checks: list[Check]) -> CheckFailed | None:
    """The one-line error of the first failed check (None when every check passed)."""
    for check in checks:
        if check.passed is False:
            unit = f" {check.unit}" if check.unit else ""
            extra = f": {check.note}" if check.name == "bit_exact" and check.note else ""
            return CheckFailed(f"validate: check {check.name}: {check.value}{unit} misses "
                               f"{check.comparison} {check.threshold}{unit} ({check.key}){extra}")
    return None
