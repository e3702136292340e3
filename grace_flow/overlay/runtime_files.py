"""The source files the board-side runtime needs: grace_flow.runtime and what it imports.

The overlay package carries exact copies of these files (listed in its manifest with their
hashes), so the target runs the runtime with no grace_flow install. The set is every runtime
module's import closure (grace_flow.code_digest.code_files: every grace_flow module it imports,
transitively, with the packages' __init__ files); imports outside grace_flow (numpy,
pillow_heif, pynq, the standard library) are the target's.
"""

from __future__ import annotations

from pathlib import Path

from grace_flow.code_digest import PACKAGE, code_files

SOURCE_ROOT = PACKAGE.parent  # the folder holding grace_flow/
RUNTIME = PACKAGE / "runtime"
#: The package's entry point (grace_flow/runtime/launcher.py, shipped at the package root).
LAUNCHER = "board.py"


def runtime_modules() -> dict[str, Path]:
    """Every grace_flow module the runtime can import: module name -> source file (the launcher,
    a script that runs on import, is shipped only as the package's entry point)."""
    entries = [f"grace_flow.runtime.{path.stem}" for path in sorted(RUNTIME.glob("*.py"))
               if path.stem != "launcher"]
    paths = {path for entry in entries for path in code_files(entry)}
    names = {".".join(p.relative_to(SOURCE_ROOT).with_suffix("").parts).removesuffix(".__init__"):
             p for p in paths}
    return dict(sorted(names.items()))


def runtime_files() -> dict[str, Path]:
    """Package-relative path -> source file of everything the shipped runtime needs."""
    files = {path.relative_to(SOURCE_ROOT).as_posix(): path
             for path in runtime_modules().values()}
    files[LAUNCHER] = RUNTIME / "launcher.py"
    return dict(sorted(files.items()))
