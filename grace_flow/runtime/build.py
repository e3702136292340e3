"""g++ builds of an engine's C++ sources into a shared library, cached on content.

The one compile step both sides use: csim (csim/build.py, on the host) and the board-side runtime
(rebuilding the emulated engines on a target the prebuilt libraries do not fit). The cache key
is sha256 of the compiler version, the flags (``-march=native`` as the CPU target g++ resolves
it to here) and every source file, so unchanged sources reuse their .so and any change
(template, spec, header, compiler, flags, CPU) rebuilds. g++ runs through
grace_flow.toolrun.run_tool like every other external tool.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Sequence

from grace_flow.toolrun import ToolError, run_tool, tool_version

COMPILER = "g++"
NATIVE = "-march=native"
# The options the g++ driver passes to cc1plus for -march=native: the CPU name and every ISA
# extension found on this CPU (a VM may hide some of the named CPU's), up to -mtune.
_RESOLVED = re.compile(r'"?-march=[^ "]+"?.*?"?-mtune=[^ "]+"?')


class BuildError(ToolError):
    """Engine sources that do not compile, or no compiler."""


def compiler_version() -> str:
    """The version of g++ on PATH; BuildError when there is none."""
    if shutil.which(COMPILER) is None:
        raise BuildError(f"{COMPILER} not found on PATH; install the Debian package g++")
    return tool_version(COMPILER)


@functools.lru_cache(maxsize=None)
def native_target() -> str:
    """What -march=native means on this machine: g++'s resolved -march=<cpu> ... -mtune=<cpu>
    options (the ISA extensions one by one), so two CPUs compare equal only if g++ would emit
    the same instructions for both. BuildError when g++ is missing or does not say."""
    compiler_version()
    out = subprocess.run([COMPILER, "-###", NATIVE, "-x", "c++", "-c", "-o", "/dev/null",
                          "/dev/null"], capture_output=True, text=True, check=False)
    match = _RESOLVED.search(out.stderr)
    if match is None:
        raise BuildError(f"{COMPILER} -### {NATIVE} did not show the resolved CPU target; "
                         f"check the g++ installation")
    return match[0].replace('"', "")


def resolved_flags(flags: Sequence[str]) -> list[str]:
    """``flags`` with -march=native replaced by the options it resolves to here."""
    return [native_target() if flag == NATIVE else flag for flag in flags]


def cache_key(sources_dir, engine: str, flags: Sequence[str]) -> str:
    """sha256 over compiler version, the resolved flags and the engine's sources (names and
    contents)."""
    digest = hashlib.sha256(
        f"{compiler_version()}\0{' '.join(resolved_flags(flags))}\0{engine}\0".encode())
    for path in sorted(Path(sources_dir).iterdir()):
        if path.suffix in (".h", ".cpp"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def compile_library(sources_dir, engine: str, build_dir, flags: Sequence[str],
                    explain: Callable[[Path], str] | None = None) -> Path:
    """Compile ``sources_dir``/<engine>_top.cpp with ``flags`` into a .so in ``build_dir``.

    Returns the cached library when one was built from identical inputs. A compile error is a
    one-line BuildError: ``explain(log_path)`` when given, else the engine and the log.
    """
    sources_dir, build_dir = Path(sources_dir).resolve(), Path(build_dir).resolve()
    top = sources_dir / f"{engine}_top.cpp"
    if not top.is_file():
        raise BuildError(f"{engine}: {top} missing; render the engine first")
    key = cache_key(sources_dir, engine, flags)[:16]
    library = build_dir / f"{engine}-{key}.so"
    if library.is_file():
        return library
    build_dir.mkdir(parents=True, exist_ok=True)
    log_path = build_dir / f"{engine}-{key}.log"
    # Compile to a temporary name and rename: a half-written .so is never taken as cached.
    partial = build_dir / f".{engine}-{key}.so.tmp"
    argv = [COMPILER, *flags, "-o", str(partial), str(top)]
    try:
        run_tool(argv, cwd=build_dir, log_path=log_path, expect=[partial])
    except ToolError as error:
        if not log_path.is_file():
            raise
        reason = explain(log_path) if explain else f"{engine}: {COMPILER} failed; log: {log_path}"
        raise BuildError(reason) from error
    partial.replace(library)
    return library
