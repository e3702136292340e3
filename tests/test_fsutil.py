"""Atomic writes: no partial file is ever visible, and a killed writer's leftovers go away."""

import os

import numpy as np

from grace_flow.fsutil import atomic_save_npz, atomic_write_text, write_if_changed


def test_a_write_leaves_only_its_target(tmp_path):
    target = tmp_path / "deep" / "report.json"
    atomic_write_text(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_the_next_write_removes_a_killed_writers_temporary_file(tmp_path):
    target = tmp_path / "weights.bin"
    stale = tmp_path / ".weights.bin.k2x9.tmp"  # what a SIGKILL between write and rename leaves
    stale.write_bytes(b"half")
    other = tmp_path / ".program.bin.a1b2.tmp"  # another target's: not this write's business
    other.write_bytes(b"half")
    atomic_save_npz(target, a=np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".program.bin.a1b2.tmp", "weights.bin"]


def test_write_if_changed_keeps_an_equal_file_untouched(tmp_path):
    target = tmp_path / "spec.json"
    assert write_if_changed(target, "a")
    os.utime(target, (1, 1))
    assert not write_if_changed(target, "a") and target.stat().st_mtime == 1
    assert write_if_changed(target, "b") and target.read_text() == "b"
