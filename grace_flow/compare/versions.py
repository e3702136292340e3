"""Two algorithm versions side by side: a workflow at a git revision, what differs, what rebuilds.

A version is a workflow file. The one at a git revision is read with GitPython and written, as
``<name>_<revision>``, under artifacts/compare/ (its relative paths rebased onto the original
file's folder), so it can be built beside the current one without sharing its artifacts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_write_text

#: Workflow keys that name files relative to the workflow file.
PATH_KEYS = (("model", "checkpoint"), ("model", "fomm_config"), ("data", "source"), ("board",))


class CompareError(FlowError):
    """A version that cannot be read or compared."""


def workflow_at_revision(workflow_path: Path, revision: str, out_dir: Path) -> Path:
    """Write the workflow file at git ``revision`` into ``out_dir``; return its path."""
    import git

    workflow_path = Path(workflow_path).resolve()
    try:
        repo = git.Repo(workflow_path.parent, search_parent_directories=True)
        commit = repo.commit(revision)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CompareError(f"compare: {workflow_path.name} is not in a git repository; "
                           "use against=<workflow file>") from None
    except (git.BadName, ValueError):
        raise CompareError(f"compare: ref={revision}: no such git revision; try "
                           "`git log --oneline`") from None
    inside = workflow_path.relative_to(Path(repo.working_tree_dir).resolve()).as_posix()
    try:
        text = (commit.tree / inside).data_stream.read().decode("utf-8")
    except KeyError:
        raise CompareError(f"compare: {inside} does not exist at {revision} "
                           f"({commit.hexsha[:7]})") from None
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict) or "name" not in raw:
        raise CompareError(f"compare: {inside} at {revision} is not a workflow (no 'name:')")
    short = commit.hexsha[:7]
    raw["name"] = f"{raw['name']}_{short}"
    out = Path(out_dir) / f"{raw['name']}.yaml"
    _rebase(raw, workflow_path.parent, out.parent.resolve())
    atomic_write_text(out, f"# {inside} at {revision} ({commit.hexsha}), for doit compare\n"
                      + yaml.safe_dump(raw, sort_keys=False))
    return out


def _rebase(raw: dict, origin: Path, folder: Path) -> None:
    """Rewrite the relative paths of ``raw`` (written for ``origin``) for a file in ``folder``."""
    for key in PATH_KEYS:
        parent = raw
        for part in key[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        value = parent.get(key[-1]) if isinstance(parent, dict) else None
        if not isinstance(value, str) or value == "synthetic" or (
                key == ("board",) and not value.endswith(".yaml")):
            continue
        parent[key[-1]] = os.path.relpath(origin / value, folder)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model.num_kp": 10, ...}`` of a nested mapping (lists are values)."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else key))
    return flat


def changed_keys(ours: dict, theirs: dict) -> dict[str, tuple[Any, Any]]:
    """Every key whose value differs (``name`` aside): key → (ours, theirs)."""
    a, b = flatten(ours), flatten(theirs)
    return {key: (a.get(key), b.get(key)) for key in sorted(a.keys() | b.keys())
            if key != "name" and a.get(key) != b.get(key)}
