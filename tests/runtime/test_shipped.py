"""The runtime as shipped in the package: run by a Python that sees nothing but the package,
numpy and pillow-heif; prebuilt engines for another machine rebuilt; damage refused."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from grace_flow.codec import decode_file
from grace_flow.overlay.package import package_overlay
from grace_flow.runtime import cli
from grace_flow.runtime.decode import decode_frames, frame_sha256
from grace_flow.runtime.package import open_package

SITE_PACKAGES = Path(np.__file__).parents[1]
#: What the target's Python has: numpy, and pillow-heif (with Pillow) for the HEIF key frames,
#: with the native libraries their wheels bundle.
TARGET_PACKAGES = ("numpy", "numpy.libs", "PIL", "pillow.libs", "pillow_heif", "pillow_heif.libs",
                   Path(importlib.util.find_spec("_pillow_heif").origin).name)
#: Imported by the host-side stages, never by the runtime.
HOST_ONLY = ("torch", "jinja2", "pydantic", "doit", "scipy", "skimage", "yaml", "paramiko",
             "matplotlib", "tqdm", "git", "av")

_DRIVER = """
import json, runpy, sys
package, site = sys.argv[1], sys.argv[2]
sys.path[:0] = [site]
sys.argv = [package + "/board.py", *sys.argv[3:]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as done:
    code = done.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules),
                  "grace_flow": sys.modules["grace_flow"].__file__}), file=sys.stderr)
"""


def _target_site(folder: Path) -> Path:
    """A site folder with only the target's packages (and their bundled native libraries)."""
    site = folder / "site"
    site.mkdir()
    for name in TARGET_PACKAGES:
        (site / name).symlink_to(SITE_PACKAGES / name)
    return site


def _isolated(package: Path, site: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run board.py under ``python -I -S`` (no site-packages, no environment, no user site)."""
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", _DRIVER, str(package),
                           str(site), *args], capture_output=True, text=True, timeout=300)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


def test_shipped_runtime_decodes_bit_exact_with_only_numpy(tiny_board, tmp_path):
    package = tmp_path / "package"
    shutil.copytree(tiny_board.package, package)
    site = _target_site(tmp_path)
    frames = tmp_path / "frames.npz"
    done, run = _isolated(package, site, "decode", "--cache", str(tmp_path / "cache"),
                          "--out", str(frames), *map(str, tiny_board.bitstreams))
    assert run["exit"] == 0, done.stderr
    facts = json.loads(done.stdout)
    assert [clip["sha256"] for clip in facts["clips"]] == tiny_board.golden
    assert facts["backend"] == "emulated" and set(facts["engines"].values()) == {"prebuilt"}
    # The code that ran is the package's copy; nothing of the host side was importable.
    assert Path(run["grace_flow"]).parent.parent == package
    assert facts["runtime"] == str(package / "grace_flow")
    assert not [m for m in run["modules"] if m.split(".")[0] in HOST_ONLY]
    with np.load(frames) as saved:
        assert [[frame_sha256(f) for f in saved[k]] for k in sorted(saved.files)] == \
            tiny_board.golden
    probe = subprocess.run([sys.executable, "-I", "-S", "-c",
                            f"import sys; sys.path[:0] = [{str(site)!r}]; import torch"],
                           capture_output=True, text=True)
    assert "No module named 'torch'" in probe.stderr


def test_damaged_package_is_one_error_line(tiny_board, tmp_path):
    package = tmp_path / "package"
    shutil.copytree(tiny_board.package, package)
    (package / "program.bin").write_bytes(b"GFPG" + bytes(60))
    done, run = _isolated(package, _target_site(tmp_path), "check", "--cache",
                          str(tmp_path / "cache"))
    assert run["exit"] == 2 and done.stdout == ""
    assert done.stderr.splitlines()[0] == (
        f"error: {package}: program.bin does not match its sha256 in manifest.json; the "
        "package is damaged, rebuild or redeploy it")


def test_prebuilt_engine_for_another_machine_is_rebuilt_and_said_so(tiny_board, tmp_path):
    """A package whose conv library is an ARM build: the target builds conv from the package's
    sources with its own g++ and the recorded flags, says why, and decodes bit-exact."""
    arm = tmp_path / "conv-arm.so"
    header = bytearray(64)
    header[:7] = b"\x7fELF\x01\x01\x01"  # 32-bit, little-endian
    header[18:20] = (40).to_bytes(2, "little")  # EM_ARM
    arm.write_bytes(bytes(header))
    folder = tiny_board.folder
    libraries = {p.stem.split("-")[0]: p for p in (folder / "build").glob("*.so")}
    compiled = folder / "compile"
    package = package_overlay(
        tmp_path / "package", toolchain="estimate", program_bin=compiled / "program.bin",
        program_json=compiled / "program.json", weights_bin=compiled / "weights.bin",
        workflow_hash="b" * 64, versions={}, engine_sources={e: folder / "hls" / e
                                                             for e in libraries},
        build=tiny_board.build, runtime=_runtime_of(tiny_board.package),
        engine_libs={**libraries, "conv": arm}, repo_dir=tmp_path)
    notes = []
    runner, facts = open_package(package, backend="emulated", cache_dir=tmp_path / "cache",
                                 note=notes.append)
    assert notes == ["emulated conv: the prebuilt conv.so is ELF 32-bit ARM, this target ELF "
                     "64-bit x86-64; building it from the package's C++ sources"]
    assert facts["engines"]["conv"].startswith("built on the target with g++ ")
    assert [p.name for p in (tmp_path / "cache").glob("conv-*.so")]
    got = [frame_sha256(o["prediction"]) for o, _ in
           decode_frames(runner, decode_file(tiny_board.bitstreams[0]))]
    assert got == tiny_board.golden[0]


def _runtime_of(package: Path) -> dict[str, Path]:
    manifest = json.loads((package / "manifest.json").read_text())
    return {name: package / name for name in manifest["files"]
            if name == "board.py" or name.startswith("grace_flow/")}


def test_cli_names_a_missing_package(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["check", "--package", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'empty'}: no manifest.json: give the package with --package\n")
