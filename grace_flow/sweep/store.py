"""The shared store: a stage's outputs kept under the content of what made them.

A stage's *key* is the sha256 of its stage function, its typed inputs' digest, the sha256 of
every file it reads (in the order the table declares them), the names of the files it writes
(relative to the variant's folder) and the digest of the code and tools the stage runs (the one
its doit up-to-date check uses: grace_flow.code_digest). Two variants whose inputs to a
stage are identical get the same key, so the second one copies the first one's outputs instead of
running the stage: variants that differ only in an engine's folding train and quantize once.

Layout under the store folder (shared by every sweep, next to the artifacts)::

    <key[:2]>/<key>/entry.json     what the entry holds: task, variant, sha256 of each file
    <key[:2]>/<key>/files/...      the outputs, by their path in the variant's folder
    .locks/<key>.lock              held while one process computes or copies the key
    .staging/                      entries being written; renamed into place when complete

An entry appears only complete (written under .staging/, then renamed), and the per-key lock
(``flock``, released by the kernel when its holder dies) makes concurrent variants that need the
same stage compute it once: the others wait, then copy.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from grace_flow.code_digest import code_digest
from grace_flow.config import stable_hash
from grace_flow.fsutil import atomic_copy, atomic_write_text, sha256_file

def stage_key(step, reads: list[str], writes: list[str]) -> str:
    """The content key of ``step``: what it runs (its function, and the digest of its code and
    tools doit's up-to-date check uses), on which values and files, writing what."""
    code = code_digest(step.action.split(":")[0], step.tools)
    return stable_hash({"action": step.action, "inputs": step.inputs.digest(), "code": code,
                        "reads": [sha256_file(path) for path in reads], "writes": writes})


class Store:
    """Stage outputs by content key, in a folder every worker sees."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold ``key`` exclusively (waits while another process holds it)."""
        path = self.root / ".locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def restore(self, key: str, folder: Path) -> Optional[list[str]]:
        """Copy the entry's files into ``folder``; their names, or None when there is no entry
        (or a damaged one, which is removed so the stage runs again)."""
        entry = self.entry(key)
        try:
            about = json.loads((entry / "entry.json").read_text())
        except FileNotFoundError:
            return None
        files = about["files"]
        if any(sha256_file(entry / "files" / name) != sha for name, sha in files.items()):
            shutil.rmtree(entry)
            return None
        for name in files:
            atomic_copy(entry / "files" / name, folder / name)
        return sorted(files)

    def save(self, key: str, folder: Path, names: list[str], about: dict) -> None:
        """Keep the files ``names`` of ``folder`` (folders: every file inside) under ``key``."""
        files = []
        for name in names:
            path = folder / name
            files += ([str(p.relative_to(folder)) for p in sorted(path.rglob("*")) if p.is_file()]
                      if path.is_dir() else [name])
        staging = self.root / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        draft = Path(tempfile.mkdtemp(dir=staging, prefix=f"{key[:12]}."))
        try:
            sums = {}
            for name in files:
                atomic_copy(folder / name, draft / "files" / name)
                sums[name] = sha256_file(draft / "files" / name)
            atomic_write_text(draft / "entry.json",
                              json.dumps({**about, "files": sums}, indent=1) + "\n")
            self.entry(key).parent.mkdir(parents=True, exist_ok=True)
            os.rename(draft, self.entry(key))
        except OSError:
            if not self.entry(key).is_dir():
                raise
        finally:
            shutil.rmtree(draft, ignore_errors=True)
