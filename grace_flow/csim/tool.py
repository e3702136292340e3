"""The one helper that runs external tools: exit code checked, output logged, outputs checked."""

import shutil
import subprocess
from pathlib import Path

from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_write_text

#: Debian package that provides each tool we run, for the "not installed" message.
PACKAGES = {"g++": "g++"}


class ToolError(FlowError):
    """An external tool is missing, failed, or did not write what it promised."""


def tool_version(tool: str) -> str:
    """First line of ``tool --version`` (part of every cache key), or ToolError when missing."""
    path = shutil.which(tool)
    if path is None:
        package = PACKAGES.get(tool, tool)
        raise ToolError(f"{tool} not found on PATH; install it (Debian: apt-get install {package})")
    completed = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return (completed.stdout or completed.stderr).splitlines()[0].strip()


def run_tool(argv: list[str], log_path, outputs=(), cwd=None) -> subprocess.CompletedProcess:
    """Run ``argv``, log command, version and output to ``log_path``, check exit and ``outputs``.

    Raises ToolError naming the log when the tool fails or an output is missing; the caller turns
    a failure into a more precise message when it can (see csim.build).
    """
    version = tool_version(argv[0])
    completed = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False)
    atomic_write_text(
        log_path,
        f"$ {' '.join(argv)}\n# {version}\n# exit {completed.returncode}\n"
        f"{completed.stdout}{completed.stderr}",
    )
    if completed.returncode != 0:
        raise ToolError(f"{argv[0]} failed (exit {completed.returncode}); log: {log_path}")
    for output in outputs:
        if not Path(output).is_file():
            raise ToolError(f"{argv[0]} did not write {output}; log: {log_path}")
    return completed
