"""The package layering: no two parts of grace_flow import each other, no stage imports tasks.

Parts are the subpackages (stages and the shared layers engines/ and perf/) and the top-level
modules (config, errors, ...). An import anywhere in a part, at module level or inside a
function, is an edge to the part it names.
"""

import ast
from pathlib import Path

import pytest
from repo_paths import REPO

PACKAGE = REPO / "grace_flow"


def part_of(module: str) -> str | None:
    """The part a dotted ``grace_flow.x.y`` name belongs to (``x``), else None."""
    names = module.split(".")
    return names[1] if names[0] == "grace_flow" and len(names) > 1 else None


def import_edges(package: Path) -> dict[str, set[str]]:
    """part → the other parts its source files import."""
    edges: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        relative = path.relative_to(package.parent).with_suffix("")
        part = part_of(".".join(relative.parts))
        if part is None:  # grace_flow/__init__.py
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "grace_flow":  # from grace_flow import config, metrics
                    named = {alias.name for alias in node.names}
                else:
                    named = {part_of(node.module)}
            elif isinstance(node, ast.Import):
                named = {part_of(alias.name) for alias in node.names}
            else:
                continue
            edges.setdefault(part, set()).update(named - {None, part})
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's smallest rotation, found by depth-first search from each part."""
    found = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                low = path.index(min(path))
                found.add(tuple(path[low:] + path[:low]))
            elif nxt not in path and nxt > start:
                walk(start, nxt, path + [nxt])

    for start in sorted(edges):
        walk(start, start, [start])
    return [list(cycle) for cycle in sorted(found)]


def test_no_part_imports_a_part_that_imports_it():
    found = cycles(import_edges(PACKAGE))
    assert found == [], "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in found)


def test_only_the_drivers_import_the_graph():
    """dodo.py (outside the package), the CI commands (grace_flow/__main__.py) and the sweep,
    which runs the graph once per variant; no stage does."""
    importers = sorted(part for part, named in import_edges(PACKAGE).items() if "tasks" in named)
    assert importers == ["__main__", "sweep"]


def test_the_check_finds_a_cycle(tmp_path):
    """The walk sees imports inside functions, and a cycle through three parts."""
    root = tmp_path / "grace_flow"
    for part, source in {"a": "from grace_flow.b import x\n",
                         "b": "def f():\n    import grace_flow.c.y\n",
                         "c": "from grace_flow import a\n"}.items():
        (root / part).mkdir(parents=True)
        (root / part / "mod.py").write_text(source)
    assert import_edges(root) == {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert cycles(import_edges(root)) == [["a", "b", "c"]]
    (root / "c" / "mod.py").write_text("import numpy\n")
    assert cycles(import_edges(root)) == []


@pytest.mark.parametrize("name, part", [("grace_flow.perf.frame", "perf"), ("numpy", None),
                                        ("grace_flow", None)])
def test_part_names(name, part):
    assert part_of(name) == part
