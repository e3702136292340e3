"""g++ builds of rendered engine sources into shared libraries, cached on content.

The cache key is sha256 of the compiler version, the flags and every source file, so an
unchanged engine reuses its .so and any change (template, spec, header, compiler) rebuilds.
g++ runs through grace_flow.toolrun.run_tool like every other external tool.
"""

import hashlib
import re
import shutil
from pathlib import Path

from grace_flow.hls.render import source_origin
from grace_flow.toolrun import ToolError, run_tool, tool_version

COMPILER = "g++"
# -Wno-unknown-pragmas: the `#pragma HLS` lines are for vitis_hls; g++ must ignore them quietly.
# -O3 (portable: no -march): g++ then fully unrolls the engines' UNROLL loops (bench/csim.py).
FLAGS = ("-O3", "-std=c++17", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror",
         "-Wno-unknown-pragmas")
_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^:\s]+):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: (?P<msg>.*)$"
)


class BuildError(ToolError):
    """A rendered engine does not compile, or there is no compiler."""


def _compiler_version() -> str:
    if shutil.which(COMPILER) is None:
        raise BuildError(f"{COMPILER} not found on PATH; install the Debian package g++")
    return tool_version(COMPILER)


def cache_key(sources_dir, engine: str) -> str:
    """sha256 over compiler version, flags and the engine's sources (names and contents)."""
    digest = hashlib.sha256(f"{_compiler_version()}\0{' '.join(FLAGS)}\0{engine}\0".encode())
    for path in sorted(Path(sources_dir).iterdir()):
        if path.suffix in (".h", ".cpp"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _first_error(engine: str, log_path: Path) -> str:
    """The first compiler error as 'file:line (from <template or header>): message; log'."""
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _DIAGNOSTIC.match(line)
        if match:
            name = Path(match["file"]).name
            return (f"{engine}: {name}:{match['line']} (from {source_origin(engine, name)}): "
                    f"{match['msg']}; log: {log_path}")
    return f"{engine}: {COMPILER} failed; log: {log_path}"


def build_engine(sources_dir, engine: str, build_dir) -> Path:
    """Compile ``sources_dir``/<engine>_top.cpp into a shared library in ``build_dir``.

    Returns the cached .so when one was built from identical inputs. A compile error is a
    one-line BuildError naming the rendered file:line, its template and the full log.
    """
    sources_dir, build_dir = Path(sources_dir).resolve(), Path(build_dir).resolve()
    top = sources_dir / f"{engine}_top.cpp"
    if not top.is_file():
        raise BuildError(f"{engine}: {top} missing; render the engine first")
    key = cache_key(sources_dir, engine)[:16]
    library = build_dir / f"{engine}-{key}.so"
    if library.is_file():
        return library
    build_dir.mkdir(parents=True, exist_ok=True)
    log_path = build_dir / f"{engine}-{key}.log"
    # Compile to a temporary name and rename: a half-written .so is never taken as cached.
    partial = build_dir / f".{engine}-{key}.so.tmp"
    argv = [COMPILER, *FLAGS, "-o", str(partial), str(top)]
    try:
        run_tool(argv, cwd=build_dir, log_path=log_path, expect=[partial])
    except ToolError as error:
        if not log_path.is_file():
            raise
        raise BuildError(_first_error(engine, log_path)) from error
    partial.replace(library)
    return library
