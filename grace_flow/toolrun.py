"""The one way the flow runs an external program (vitis_hls, vivado, g++, ...).

``run_tool`` finds the program on PATH, records its version, sends stdout and stderr to a
per-step log, checks the exit status *and* that every declared output exists afterwards, and
deletes the declared outputs when any of that fails, so no later step (or doit) takes a partial
result for a finished one. A tool that exits 0 without writing its outputs is a failure: the
vendor tools do exactly that on several errors.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from grace_flow.errors import FlowError

_VENDOR_VERSION = r"\bv(\d{4}\.\d+(?:\.\d+)?)\b"  # "Vivado v2023.2 (64-bit)", "... HLS ... v2023.2"


def found_toolchain() -> str:
    """What ``synth.toolchain: auto`` means here: vitis when vitis_hls and vivado are on PATH,
    else the estimate."""
    return "vitis" if shutil.which("vitis_hls") and shutil.which("vivado") else "estimate"


@dataclass(frozen=True)
class _Probe:
    """How to ask a tool its version, and what to tell the user when it is missing."""

    args: tuple[str, ...]
    pattern: str
    missing: str


_PROBES = {
    "vitis_hls": _Probe(
        ("-version",), _VENDOR_VERSION,
        "synth.toolchain: vitis needs vitis_hls on PATH: source the Vitis settings64.sh or use "
        "toolchain: estimate",
    ),
    "vivado": _Probe(
        ("-version",), _VENDOR_VERSION,
        "synth.toolchain: vitis needs vivado on PATH: source the Vivado settings64.sh or use "
        "toolchain: estimate",
    ),
}
_DEFAULT_PROBE = _Probe(("--version",), r"(\d+(?:\.\d+)+)", "{tool} is not on PATH: install it")
_FIRST_ERROR = re.compile(r"^(?:ERROR:|.*\berror:).*$", re.MULTILINE)


class ToolError(FlowError):
    """An external tool is missing, failed, or did not write what it was asked to."""


@dataclass(frozen=True)
class ToolRun:
    """A finished tool run: the tool's version, its wall-clock time and its log file."""

    version: str
    seconds: float
    log: Path


def tool_version(tool: str) -> str:
    """The version of ``tool`` as found on PATH now ("2023.2" for the AMD tools)."""
    executable = shutil.which(tool)
    if executable is None:
        raise ToolError(_probe(tool).missing.format(tool=tool))
    return _cached_version(tool, executable, os.stat(executable).st_mtime_ns)


def run_tool(argv: list[str], cwd: Path, log_path: Path, expect: list[Path]) -> ToolRun:
    """Run ``argv`` in ``cwd`` with all output in ``log_path``; check that ``expect`` exist.

    Relative ``expect`` paths are taken from ``cwd``. Outputs left by an earlier run are removed
    first, so only this run can satisfy the check. Raises :class:`ToolError` (one line) when the
    tool is not on PATH, exits non-zero (naming the log and the first error line in it), or does
    not write a declared output (naming it); the declared outputs are deleted in each case.
    """
    tool = argv[0]
    version = tool_version(tool)
    outputs = [(path, Path(cwd) / path) for path in expect]
    _remove([full for _, full in outputs])
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            log.write(f"# {tool} {version}: {shlex.join(argv)}\n")
            log.flush()
            subprocess.run(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, check=True)
    except subprocess.CalledProcessError as err:
        _remove([full for _, full in outputs])
        raise ToolError(
            f"{tool} failed with exit status {err.returncode} (see {log_path})"
            f"{_first_error(log_path)}"
        ) from None
    except BaseException:
        _remove([full for _, full in outputs])
        raise
    missing = [str(path) for path, full in outputs if not full.exists()]
    if missing:
        _remove([full for _, full in outputs])
        raise ToolError(
            f"{tool} exited without writing {', '.join(missing)} (see {log_path}); "
            "the outputs of this step were removed"
        )
    return ToolRun(version=version, seconds=time.monotonic() - start, log=log_path)


def _probe(tool: str) -> _Probe:
    return _PROBES.get(tool, _DEFAULT_PROBE)


@functools.lru_cache(maxsize=None)
def _cached_version(tool: str, executable: str, mtime_ns: int) -> str:
    """Ask ``executable`` its version once per file and modification time (vivado is slow)."""
    probe = _probe(tool)
    try:
        done = subprocess.run([executable, *probe.args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=300)
        output = done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired) as err:
        output = str(err)
    # Match the version whatever the exit status: some releases exit 1 after printing it.
    match = re.search(probe.pattern, output)
    if match is None:
        first = output.strip().splitlines()[0] if output.strip() else "no output"
        raise ToolError(
            f"cannot read the version of {tool} from `{tool} {' '.join(probe.args)}` "
            f"({first[:120]}); check the installation"
        )
    return match[1]


def _first_error(log_path: Path) -> str:
    """': <first error line of the log>', or '' when the log names no error."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    # Skip the header line run_tool wrote: it quotes the command line, not the tool's output.
    match = _FIRST_ERROR.search(text.partition("\n")[2])
    return f": {match[0].strip()[:200]}" if match else ""


def _remove(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
