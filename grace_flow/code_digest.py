"""The code and tools a task runs, as one digest in its up-to-date check.

doit tracks files and values; a stage's Python code and the tools it calls are inputs too. A
task's code is its stage module and every grace_flow module that one imports, transitively
(imports inside functions included, found by a scan of the source text: fast enough for every
``doit`` run, and an over-approximation at worst). Its tools are named per stage (g++, torch,
the vendor tools) and identified by their version. Editing a module reruns the tasks whose code
includes it; when their outputs come out the same, doit's file hashes stop the cascade.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)"
                     r"|import[ \t]+([\w., \t]+))", re.M)


@functools.lru_cache(maxsize=None)
def _module_file(name: str) -> Path | None:
    """The source file of module ``grace_flow.x.y`` (a .py file or a package's __init__.py)."""
    base = PACKAGE.joinpath(*name.split(".")[1:])
    for candidate in (base / "__init__.py", base.with_name(base.name + ".py")):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


@functools.lru_cache(maxsize=None)
def _imports(path: Path) -> frozenset[str]:
    """grace_flow modules named by the import statements of ``path``."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for source, names, plain in _IMPORT.findall(path.read_text(encoding="utf-8")):
        if plain:
            found.update(n.split(" as ")[0].strip() for n in plain.split(","))
            continue
        if source.startswith("."):
            up = len(source) - len(source.lstrip("."))
            base = package.rsplit(".", up - 1)[0] if up > 1 else package
            source = f"{base}.{source.lstrip('.')}".rstrip(".")
        found.add(source)
        for alias in names.strip("()").replace("\n", " ").split(","):
            name = alias.split(" as ")[0].strip()
            if name:
                found.add(f"{source}.{name}")  # a submodule, when one has that name
    return frozenset(n for n in found if n.split(".")[0] == "grace_flow")


@functools.lru_cache(maxsize=None)
def code_files(module: str) -> tuple[Path, ...]:
    """The files of ``module`` and of every grace_flow module it imports, transitively, with
    the ``__init__.py`` of each enclosing package (Python runs those too)."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            path = _module_file(".".join(parts[:end]))
            if path is not None and path not in seen:
                seen.add(path)
                todo.extend(_imports(path))
    return tuple(sorted(seen))


@functools.lru_cache(maxsize=None)
def tool_version(tool: str) -> str:
    """What identifies ``tool``: a Python distribution's version, g++'s first --version line and
    the CPU target -march=native resolves to (C-sim libraries are built for this CPU), a vendor
    tool's resolved path (its install folder names the release; running it takes seconds), or
    'missing'."""
    try:
        return importlib.metadata.version(tool)
    except importlib.metadata.PackageNotFoundError:
        pass
    executable = shutil.which(tool)
    if executable is None:
        return "missing"
    if tool in ("g++", "gcc"):
        out = subprocess.run([executable, "--version"], capture_output=True, text=True,
                             check=False)
        version = out.stdout.splitlines()[0] if out.stdout else "unknown"
        if tool == "g++":
            from grace_flow.runtime.build import native_target

            version += f"; {native_target()}"
        return version
    return os.path.realpath(executable)


@functools.lru_cache(maxsize=None)
def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=None)
def code_digest(module: str, tools: tuple[str, ...] = ()) -> str:
    """sha256 over the Python version, the code files of ``module`` (paths inside the package
    and contents) and the versions of ``tools``."""
    digest = hashlib.sha256(f"python {platform.python_version()}\0".encode())
    for path in code_files(module):
        digest.update(f"{path.relative_to(PACKAGE).as_posix()} {_file_digest(path)}\0".encode())
    for tool in sorted(tools):
        digest.update(f"{tool} {tool_version(tool)}\0".encode())
    return digest.hexdigest()


class code_changed:  # noqa: N801  (named like doit's own config_changed)
    """doit up-to-date check: the task's code and tools are those of its last successful run.

    The digest is computed only when doit checks the task (not for ``doit list``), once.
    """

    KEY = "_code_digest"

    def __init__(self, module: str, tools: tuple[str, ...] = ()):
        self.module, self.tools = module, tools

    @functools.cached_property
    def digest(self) -> str:
        return code_digest(self.module, self.tools)

    def configure_task(self, task) -> None:
        task.value_savers.append(lambda: {self.KEY: self.digest})

    def __call__(self, task, values) -> bool:
        return values.get(self.KEY) == self.digest
