"""Operations on the install folder of a target, run there by the target's own Python.

The host sends this file on stdin: ``python3 - <op> <root> [args]``. It uses the standard library
only, since it runs before anything of grace_flow is on the target, and every hash it prints is
computed there from the bytes on the target's disk. Layout under the root:

    versions/<version>/   installed packages (<version>: the first 16 hex of the package hash)
    current -> versions/<version>     what the target runs; replaced by one rename
    previous -> versions/<version>    what ``rollback`` goes back to
    staging/<version>/    an upload in progress (never run)
    cache/                engines the runtime built on this target
    work/                 validation scratch (bitstreams in, frames out)

Each op prints one JSON object on stdout; a refusal is one line on stderr and exit status 2.
"""

import hashlib
import json
import os
import shutil
import sys

LINKS = ("current", "previous")


class Refused(Exception):
    """An op that cannot be done; its message is the one line the host shows."""


def _linked(root, name):
    """The version a link points at (None when missing or dangling)."""
    path = os.path.join(root, name)
    if not os.path.islink(path) or not os.path.isdir(path):
        return None
    return os.path.basename(os.readlink(path).rstrip("/"))


def _listing(root, folder):
    path = os.path.join(root, folder)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def _free_bytes(root):
    path = root
    while not os.path.isdir(path):
        path = os.path.dirname(path) or "/"
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def status(root):
    """What is installed: current, previous, versions, staging, free bytes."""
    return {"current": _linked(root, "current"), "previous": _linked(root, "previous"),
            "versions": _listing(root, "versions"), "staging": _listing(root, "staging"),
            "free_bytes": _free_bytes(root)}


def _sync(folder):
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _point(root, name, version):
    """Make link ``name`` point at versions/<version>, atomically (a new link renamed over)."""
    partial = os.path.join(root, "." + name + ".new")
    if os.path.lexists(partial):
        os.unlink(partial)
    os.symlink(os.path.join("versions", version), partial)
    os.replace(partial, os.path.join(root, name))
    _sync(root)


def _collect(root):
    """Delete what no link keeps: stale uploads, versions other than current and previous."""
    keep = {_linked(root, name) for name in LINKS}
    shutil.rmtree(os.path.join(root, "staging"), ignore_errors=True)
    for version in _listing(root, "versions"):
        if version not in keep:
            shutil.rmtree(os.path.join(root, "versions", version), ignore_errors=True)


def prepare(root, version, needed):
    """Clean up, check the space, create staging/<version>/ for an upload of ``needed`` bytes."""
    for folder in ("versions", "staging"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    _collect(root)
    free, needed = _free_bytes(root), int(needed)
    if free < needed:
        raise Refused("the target's disk is full ({} KB free under {}, the package needs {} KB)"
                      .format(free >> 10, root, -(-needed >> 10)))
    os.makedirs(os.path.join(root, "staging", version))
    return status(root)


def discard(root, version):
    """Remove an unfinished upload of ``version``."""
    shutil.rmtree(os.path.join(root, "staging", version), ignore_errors=True)
    return status(root)


def hashes(root, folder):
    """sha256 of every file under root/<folder>, by path relative to it (bytecode caches, which
    a Python run by hand in the package leaves, are not package files)."""
    base = os.path.join(root, folder)
    found = {}
    for directory, folders, names in os.walk(base):
        folders[:] = [name for name in folders if name != "__pycache__"]
        for name in names:
            path = os.path.join(directory, name)
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            found[os.path.relpath(path, base)] = digest.hexdigest()
    return {"files": found}


def switch(root, version):
    """Install staging/<version> (or the installed versions/<version>) as current; the old
    current becomes previous. Each step is one rename, so a crash leaves a consistent state."""
    installed = os.path.join(root, "versions", version)
    if not os.path.isdir(installed):
        os.replace(os.path.join(root, "staging", version), installed)
    old = _linked(root, "current")
    if old is not None and old != version:
        _point(root, "previous", old)
    _point(root, "current", version)
    _collect(root)
    return status(root)


def rollback(root):
    """Swap current and previous."""
    old, back = _linked(root, "current"), _linked(root, "previous")
    if back is None:
        raise Refused("there is no previous version under {} to roll back to".format(root))
    _point(root, "current", back)
    if old is not None:
        _point(root, "previous", old)
    return status(root)


def work(root):
    """An empty folder `work` inside the deployment root, for a validation run."""
    path = os.path.join(root, "work")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return {"work": path}


OPS = {"status": status, "prepare": prepare, "discard": discard, "hashes": hashes,
       "switch": switch, "rollback": rollback, "work": work}


def main(argv):
    op, args = argv[0], argv[1:]
    try:
        result = OPS[op](*args)
    except Refused as refusal:
        print(str(refusal), file=sys.stderr)
        return 2
    except OSError as err:
        print("{} failed: {}".format(op, err), file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
