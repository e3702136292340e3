"""Deploying to the emulated board (a local folder): switch, receipt, rollback, reruns."""

import os

import pytest
from deploy_support import assert_current, assert_validates, read_receipt

from grace_flow.deploy.stage import DeployError, deploy_overlay, rollback, version_of
from grace_flow.deploy.targets import LocalTarget
from grace_flow.runtime.package import package_hash


@pytest.fixture
def packages(tiny_board, tmp_path):
    """Two packages of the same decoder (other workflow hashes): an old and a new version."""
    return (tiny_board.repackage(tmp_path / "old", "1" * 64),
            tiny_board.repackage(tmp_path / "new", "2" * 64))


def _deploy(package, tmp_path):
    return deploy_overlay(package, tmp_path / "receipt.json",
                          settings={"target": "emulator"}, emulator_dir=tmp_path / "board",
                          base_dir=tmp_path)


def test_deploy_switch_receipt_and_rollback(packages, tiny_board, tmp_path):
    old, new = packages
    first = _deploy(old, tmp_path)
    target = LocalTarget(tmp_path / "board")
    assert_current(target, old)
    assert first["action"] == "deployed" and first["previous"] is None
    assert first["package"] == package_hash(old) and first["target"].startswith("emulator (")
    assert first["runtime"]["backend"] == "emulated"
    assert os.readlink(tmp_path / "board" / "current") == f"versions/{version_of(first['package'])}"

    second = _deploy(new, tmp_path)
    assert_current(target, new, previous=old)
    assert second["previous"] == version_of(package_hash(old))
    assert read_receipt(tmp_path / "receipt.json") == second
    assert_validates(target, tiny_board, tmp_path / "frames")

    back = rollback(tmp_path / "receipt.json", settings={"target": "emulator"},
                    emulator_dir=tmp_path / "board", base_dir=tmp_path)
    assert_current(target, old, previous=new)
    assert back["action"] == "rolled back" and back["package"] == package_hash(old)
    assert_validates(target, tiny_board, tmp_path / "frames")

    again = _deploy(new, tmp_path)  # the rolled-back-from version is installed: no upload
    assert again["action"] == "deployed"
    assert_current(target, new, previous=old)
    assert _deploy(new, tmp_path)["action"] == "already current"


def test_only_current_and_previous_are_kept(tiny_board, tmp_path):
    versions = [tiny_board.repackage(tmp_path / f"v{i}", f"{i}" * 64) for i in range(3)]
    for package in versions:
        _deploy(package, tmp_path)
    assert_current(LocalTarget(tmp_path / "board"), versions[2], previous=versions[1])


def test_rollback_without_a_previous_version_is_one_line(packages, tmp_path):
    _deploy(packages[0], tmp_path)
    with pytest.raises(DeployError) as err:
        rollback(tmp_path / "receipt.json", settings={"target": "emulator"},
                 emulator_dir=tmp_path / "board", base_dir=tmp_path)
    assert str(err.value) == (f"rollback: emulator ({tmp_path / 'board'}): there is no previous "
                              f"version under {tmp_path / 'board'} to roll back to")


def test_a_damaged_overlay_is_not_uploaded(packages, tmp_path):
    (packages[0] / "weights.bin").write_bytes(b"damaged")
    with pytest.raises(DeployError, match=r"^deploy: .*weights\.bin does not match its sha256"):
        _deploy(packages[0], tmp_path)
    assert not (tmp_path / "board").exists()
