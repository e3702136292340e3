"""The files the package ships for the board-side runtime: what the runtime imports, no more."""

import ast
import sys

from grace_flow.overlay.runtime_files import LAUNCHER, SOURCE_ROOT, runtime_files, runtime_modules

#: What a target provides besides the standard library (pynq only on a board, imported lazily).
TARGET_PACKAGES = {"numpy", "pillow_heif", "pynq"}


def test_the_runtime_ships_with_the_contract_and_the_decode_side_only():
    modules = set(runtime_modules())
    assert {"grace_flow.runtime.runner", "grace_flow.runtime.pynq_hw",
            "grace_flow.engines.program", "grace_flow.codec.keyframe",
            "grace_flow.errors"} <= modules
    stages = {"csim", "quant", "hls", "compile", "config", "model", "data", "synth", "overlay",
              "deploy", "validate", "perf", "templating", "tasks", "metrics", "progress"}
    assert not {m for m in modules if m.count(".") and m.split(".")[1] in stages}
    assert not {"grace_flow.codec.mutate", "grace_flow.codec.quality", "grace_flow.codec.stage",
                "grace_flow.engines.spec", "grace_flow.runtime.launcher"} & modules


def test_the_launcher_is_the_package_entry_point():
    files = runtime_files()
    assert files[LAUNCHER] == SOURCE_ROOT / "grace_flow" / "runtime" / "launcher.py"
    assert set(files) - {LAUNCHER} == {str(p.relative_to(SOURCE_ROOT))
                                       for p in runtime_modules().values()}


def test_shipped_modules_import_only_what_a_target_has():
    """Module-level imports: the standard library, numpy, pillow-heif, pynq and each other."""
    for name, path in runtime_modules().items():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in sys.stdlib_module_names | TARGET_PACKAGES | {"grace_flow"}, \
                    f"{name} imports {root}"


def _grace_flow_imports(path, module: str) -> set[str]:
    """Every grace_flow module ``path`` imports anywhere (the parser's view, not a regex's)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] == "grace_flow"}


def test_the_shipped_set_is_closed_under_every_import():
    """Whatever a shipped module imports from grace_flow, even inside a function, is shipped."""
    modules = runtime_modules()
    for name, path in modules.items():
        for imported in _grace_flow_imports(path, name):
            parts = imported.split(".")
            is_module = (SOURCE_ROOT.joinpath(*parts).with_suffix(".py").is_file()
                         or (SOURCE_ROOT.joinpath(*parts) / "__init__.py").is_file())
            assert not is_module or imported in modules, f"{name} imports {imported}"
