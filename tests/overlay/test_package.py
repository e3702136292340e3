"""Overlay package: manifest hashes (tamper test), provenance, register maps from the .hwh."""

import json
from pathlib import Path

import pytest

from grace_flow.overlay.package import (
    PackageError,
    package_overlay,
    register_map_from_hwh,
    verify_manifest,
)

from repo_paths import VENDOR


def _inputs(tmp_path):
    files = {}
    for name, data in (("program.bin", b"GFPG\x01"), ("program.json", b"{}\n"),
                       ("weights.bin", bytes(range(64))), ("conv.so", b"\x7fELF conv"),
                       ("conv/conv_top.cpp", b"// top"), ("conv/grace_ddr.h", b"// ddr"),
                       ("board.py", b"# launcher")):
        files[name] = tmp_path / "in" / name
        files[name].parent.mkdir(exist_ok=True)
        files[name].write_bytes(data)
    return files


def _common(files) -> dict:
    return dict(program_bin=files["program.bin"], program_json=files["program.json"],
                weights_bin=files["weights.bin"], engine_sources={"conv": files["conv.so"].parent
                                                                  / "conv"},
                build={"compiler": "12.2.0", "flags": ["-O3"]},
                runtime={"board.py": files["board.py"]})


def _emulated(tmp_path, repo_dir):
    files = _inputs(tmp_path)
    return package_overlay(
        tmp_path / "overlay", toolchain="estimate", workflow_hash="ab" * 32,
        versions={"grace_flow": "0.1"}, engine_libs={"conv": files["conv.so"]},
        repo_dir=repo_dir, **_common(files))


def test_manifest_covers_every_file_and_verifies(tmp_path):
    folder = _emulated(tmp_path, tmp_path)
    manifest = verify_manifest(folder)
    assert sorted(manifest["files"]) == [
        "board.py", "engines.json", "engines/conv.so", "engines/conv/conv_top.cpp",
        "engines/conv/grace_ddr.h", "program.bin", "program.json", "register_map.json",
        "weights.bin"]
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert on_disk == {*manifest["files"], "manifest.json"}
    assert json.loads((folder / "engines.json").read_text()) == {
        "compiler": "12.2.0", "flags": ["-O3"],
        "engines": {"conv": {"library": "engines/conv.so", "sources": "engines/conv"}}}
    assert manifest["git"] == {"commit": "unknown", "dirty": "unknown"}  # tmp is no repo
    assert manifest["workflow_hash"] == "ab" * 32 and manifest["toolchain"] == "estimate"
    regs = json.loads((folder / "register_map.json").read_text())
    conv = regs["conv"]["registers"]  # the Vitis HLS layout: control block, pointer, registers
    assert (conv["CTRL"], conv["ap_return"], conv["ddr_1"], conv["ddr_2"]) == (0, 0x10, 0x18, 0x1C)
    assert conv["in_off"] == 0x24 and conv["flags"] == 0x24 + 8 * 15


def test_one_changed_byte_fails_naming_the_file(tmp_path):
    folder = _emulated(tmp_path, tmp_path)
    data = bytearray((folder / "weights.bin").read_bytes())
    data[10] ^= 1
    (folder / "weights.bin").write_bytes(bytes(data))
    with pytest.raises(PackageError, match=r"^.*overlay: weights\.bin does not match its sha256 "
                                           r"in manifest\.json; the package is damaged"):
        verify_manifest(folder)


def test_missing_file_fails(tmp_path):
    folder = _emulated(tmp_path, tmp_path)
    (folder / "program.bin").unlink()
    with pytest.raises(PackageError, match=r"program\.bin is missing"):
        verify_manifest(folder)


def test_git_provenance_inside_the_repository(tmp_path):
    manifest = verify_manifest(_emulated(tmp_path, Path(__file__).parent))
    assert len(manifest["git"]["commit"]) == 40 and isinstance(manifest["git"]["dirty"], bool)


def test_repackaging_replaces_the_folder(tmp_path):
    folder = _emulated(tmp_path, tmp_path)
    (folder / "stray.txt").write_text("old")
    _emulated(tmp_path, tmp_path)
    assert not (folder / "stray.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_killed_build_leaves_nothing_for_the_next_one(tmp_path):
    (tmp_path / ".overlay.x7k2").mkdir()  # a staging folder of a build killed mid-copy
    (tmp_path / ".overlay.x7k2" / "weights.bin").write_bytes(b"half")
    (tmp_path / ".overlay.old").mkdir()  # a package moved aside when the kill came
    _emulated(tmp_path, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "overlay"]


def test_vitis_package_needs_the_bitstream(tmp_path):
    files = _inputs(tmp_path)
    with pytest.raises(PackageError, match="needs the bitstream and the .hwh"):
        package_overlay(tmp_path / "o", toolchain="vitis", workflow_hash="x", versions={},
                        **_common(files))


def test_register_map_from_the_fixture_hwh():
    regs = register_map_from_hwh(VENDOR / "hwh" / "pynqz2_add_axilite.hwh")
    assert regs["scalar_add"]["base"] == 0x4000_0000
    assert regs["scalar_add"]["registers"] == {"a": 0x10, "b": 0x18, "c": 0x20, "c_ctrl": 0x24}
    assert regs["scalar_add"]["vlnv"] == "xilinx.com:hls:add:1.0"


def test_vitis_package_writes_the_hwh_register_map(tmp_path):
    files = _inputs(tmp_path)
    bit = tmp_path / "in" / "overlay.bit"
    bit.write_bytes(b"bit")
    folder = package_overlay(
        tmp_path / "o", toolchain="vitis", workflow_hash="x", versions={"vivado": "2020.2"},
        bitstream=bit, hwh=VENDOR / "hwh" / "pynqz2_add_axilite.hwh", **_common(files))
    regs = json.loads((folder / "register_map.json").read_text())
    assert regs["scalar_add"]["registers"]["b"] == 0x18
    assert "overlay.hwh" in verify_manifest(folder)["files"]
