"""Bundles: `doit bundle` writes one verifiable, reproducible tar.gz; any alteration is named."""

import gzip
import io
import shutil
import subprocess
import sys
import tarfile

import pytest
from doit_helpers import run_project

from grace_flow.bundle.stage import BundleError, verify_bundle, write_bundle

PROVENANCE = dict(built_from="ab" * 32, toolchain="estimate", workflow="w.yaml")


@pytest.fixture
def files(tmp_path):
    found = {}
    for name, data in (("v/report.json", b"{}\n"), ("v/overlay/weights.bin", bytes(range(64)))):
        found[name] = tmp_path / "in" / name
        found[name].parent.mkdir(parents=True, exist_ok=True)
        found[name].write_bytes(data)
    return found


def _repack(source, target, change):
    """Copy bundle ``source`` to ``target`` with ``change(members)`` applied (name → bytes)."""
    with tarfile.open(source, "r:gz") as tar:
        members = {i.name: tar.extractfile(i).read() for i in tar.getmembers()}
    change(members)
    with tarfile.open(target, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_bundle_verifies_and_is_reproducible(tmp_path, files):
    first = tmp_path / "a.tar.gz"
    manifest = write_bundle(first, files=files, **PROVENANCE)
    assert sorted(manifest["files"]) == ["v/overlay/weights.bin", "v/report.json"]
    assert manifest["provenance"]["built_from"] == "ab" * 32
    assert verify_bundle(first) == manifest
    second = tmp_path / "b.tar.gz"
    write_bundle(second, files=files, **PROVENANCE)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update({"v/report.json": b"{ }\n"}),
     r"v/report\.json does not match its sha256 in bundle\.json; the bundle is damaged"),
    (lambda m: m.pop("v/report.json"), r"v/report\.json is listed in bundle\.json but missing"),
    (lambda m: m.update({"v/extra.txt": b"x"}), r"v/extra\.txt is not in bundle\.json"),
    (lambda m: m.update({"../escape": b"x"}), r"member '\.\./escape' is not a plain relative "),
    (lambda m: m.pop("bundle.json"), r"no bundle\.json; not a grace_flow bundle"),
])
def test_an_altered_bundle_is_refused_naming_the_member(tmp_path, files, change, message):
    write_bundle(tmp_path / "a.tar.gz", files=files, **PROVENANCE)
    _repack(tmp_path / "a.tar.gz", tmp_path / "b.tar.gz", change)
    with pytest.raises(BundleError, match=message):
        verify_bundle(tmp_path / "b.tar.gz")


def test_not_a_bundle(tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(gzip.compress(b"not a tar"))
    with pytest.raises(BundleError, match=r"not a readable bundle"):
        verify_bundle(tmp_path / "x.tar.gz")


def test_doit_bundle_unpacks_and_verifies(built, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(built, project, symlinks=True)
    run = run_project(project, "bundle", "workflow=w.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.executed == ["bundle"]  # the flow is built: only the bundle runs
    bundle = project / "artifacts" / "bundles" / "tiny.tar.gz"
    unpacked = tmp_path / "unpacked"
    with tarfile.open(bundle) as tar:
        tar.extractall(unpacked, filter="data")
    names = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    assert {"bundle.json", "tiny/w.yaml", "tiny/overlay/manifest.json",
            "tiny/synth/system.json", "tiny/codec/test_000.agc"} <= names
    assert not any(n.startswith("tiny/data/") or n.endswith((".pt", ".npz")) for n in names)
    done = subprocess.run([sys.executable, "-m", "grace_flow", "verify-bundle", str(bundle)],
                          capture_output=True, text=True, cwd=project)
    assert done.returncode == 0 and f"{len(names) - 1} files verified" in done.stdout
