"""The shared store: a stage's outputs kept under the content of what made them.

A stage's *key* is the sha256 of its stage function, its typed inputs' digest, the sha256 of
every file it reads (in the order the table declares them), the names of the files it writes
(relative to the variant's folder) and the grace_flow code itself. Two variants whose inputs to a
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
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator, Optional

import grace_flow
from grace_flow.config import stable_hash
from grace_flow.fsutil import atomic_copy, atomic_write_text

#: Libraries whose version can change a stage's numbers, so they are part of every key.
NUMERIC_LIBRARIES = ("numpy", "torch", "scipy")


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """Hash of the grace_flow sources and the numeric libraries' versions.

    doit does not track code (``doit forget`` after an edit); the store is shared by many runs, so
    it does: any edit of grace_flow makes every key new, and nothing made by older code is reused.
    """
    package = Path(grace_flow.__file__).parent
    sources = {str(p.relative_to(package)): file_sha256(p) for p in sorted(package.rglob("*.py"))}
    versions = {name: metadata.version(name) for name in NUMERIC_LIBRARIES}
    return stable_hash({"sources": sources, "libraries": versions, "python": sys.version})


def stage_key(action: str, inputs_digest: str, reads: list[str], writes: list[str]) -> str:
    """The content key of a stage: what it runs, on which values and files, writing what."""
    return stable_hash({"action": action, "inputs": inputs_digest, "code": code_digest(),
                        "reads": [file_sha256(path) for path in reads], "writes": writes})


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
        if any(file_sha256(entry / "files" / name) != sha for name, sha in files.items()):
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
                sums[name] = file_sha256(draft / "files" / name)
            atomic_write_text(draft / "entry.json",
                              json.dumps({**about, "files": sums}, indent=1) + "\n")
            self.entry(key).parent.mkdir(parents=True, exist_ok=True)
            os.rename(draft, self.entry(key))
        except OSError:
            if not self.entry(key).is_dir():
                raise
        finally:
            shutil.rmtree(draft, ignore_errors=True)
