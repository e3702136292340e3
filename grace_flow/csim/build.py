"""The C-sim build of rendered engine sources: g++ with the project's flags, cached on content.

The compile step itself (cache key, atomic .so, toolrun) is grace_flow.runtime.build, shared with
the board-side runtime; this module fixes the flags and names, on a compile error, the rendered
file:line and the template or header it came from.
"""

import re
from pathlib import Path

from grace_flow.hls.render import source_origin
from grace_flow.runtime.build import (COMPILER, BuildError, compile_library, compiler_version,
                                      native_target)

# -Wno-unknown-pragmas: the `#pragma HLS` lines are for vitis_hls; g++ must ignore them quietly.
# -O3 -march=native: g++ fully unrolls the engines' UNROLL loops and vectorizes the MAC loops
# with this CPU's widest integer SIMD (bench/csim.py); the build key, the C-sim report and the
# overlay's engines.json carry the CPU target that resolves to, so a library is only ever
# loaded on the CPU it was built for. -pthread: conv's C-sim entry runs halves on two threads.
FLAGS = ("-O3", "-march=native", "-pthread", "-std=c++17", "-shared", "-fPIC", "-Wall",
         "-Wextra", "-Werror", "-Wno-unknown-pragmas")
_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^:\s]+):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: (?P<msg>.*)$"
)

__all__ = ["FLAGS", "BuildError", "build_engine", "build_info"]


def build_info() -> dict:
    """How the C-sim libraries are built here: compiler version, flags, the -march=native CPU."""
    return {"compiler": compiler_version(), "flags": list(FLAGS), "target": native_target()}


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
    return compile_library(sources_dir, engine, build_dir, FLAGS,
                           explain=lambda log_path: _first_error(engine, log_path))
