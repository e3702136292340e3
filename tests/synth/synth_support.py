"""Helpers for the synthesis tests: fixture paths, engine builds, and running generated Tcl
under the tclsh stub harness (mock_tools/tcl_stubs.tcl) with its command record parsed."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grace_flow.synth.tcl import EngineBuild
from repo_paths import BOARD_FILE, REPO, VENDOR  # noqa: F401  (re-exported to the synth tests)

HERE = Path(__file__).resolve().parent
MOCKS = HERE / "mock_tools"
HARNESS = MOCKS / "tcl_stubs.tcl"
ENGINES = ["conv", "grid_sample", "upsample", "elementwise", "keypoint"]

needs_tclsh = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")


@dataclass
class Call:
    """One recorded vendor command: its name, -option values, flags and positional words."""

    name: str
    options: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    args: list[str] = field(default_factory=list)


def read_calls(record: Path) -> list[Call]:
    """Parse the harness record file (one tab-separated line per call)."""
    calls = []
    for line in record.read_text().splitlines():
        name, *words = line.split("\t")
        call = Call(name)
        for word in words:
            if word.startswith("-") and "=" in word:
                key, value = word.split("=", 1)
                call.options[key] = value
            elif word.startswith("-"):
                call.flags.add(word)
            else:
                call.args.append(word)
        calls.append(call)
    return calls


def run_stubbed(script: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[Call]]:
    """Run ``script`` in its folder under the stub harness; return the process and the calls."""
    record = script.parent / "stub_record.txt"
    record.unlink(missing_ok=True)
    environment = {**os.environ, "GRACE_STUB_RECORD": str(record), **env}
    environment.setdefault("GRACE_FIXTURES", str(VENDOR))
    done = subprocess.run(["tclsh", str(HARNESS), script.name], cwd=script.parent,
                          env=environment, capture_output=True, text=True, timeout=60)
    return done, read_calls(record) if record.exists() else []


def make_build(root: Path, name: str, clock_ns: float = 10.0) -> EngineBuild:
    """An engine build with real (tiny) source files under ``root/kernels/<name>``."""
    folder = root / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    top = folder / f"{name}_top.cpp"
    header = folder / f"{name}_params.h"
    top.write_text(f'#include "{header.name}"\nvoid {name}_top() {{}}\n')
    header.write_text("#pragma once\n")
    return EngineBuild(name, f"{name}_top", [top, header], [folder, root / "kernels"], clock_ns)
