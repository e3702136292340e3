"""A tiny but real overlay package with test bitstreams and their golden frames.

The decoder of decoder_support (32 × 32, 4 keypoints) is compiled, its engines rendered and
built with g++, and packaged by the overlay stage's own packager with the shipped runtime; two
short clips of smooth random frames are encoded as AGC bitstreams; the golden model gives the
sha256 of every frame the co-processor must produce.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from decoder_support import compile_tiny, tiny_qgraph

from grace_flow.codec import decode_file, encode_file
from grace_flow.csim.build import build_engine, build_info
from grace_flow.hls.render import render_engine
from grace_flow.overlay.package import package_overlay
from grace_flow.overlay.runtime_files import runtime_files
from grace_flow.quant.golden import run_golden
from grace_flow.runtime.decode import frame_inputs, frame_sha256

FRAMES, GOP = 3, 2


@dataclass
class TinyBoard:
    """A built package and what validating it needs."""

    folder: Path  # everything below lives here
    package: Path  # the overlay package folder
    bitstreams: list[Path]
    originals: list[np.ndarray]  # per clip, the frames that were encoded [T, H, W, 3]
    golden: list[list[str]]  # per clip, the sha256 of every golden prediction frame
    qgraph: object
    build: dict  # compiler and flags of the prebuilt libraries

    def repackage(self, out: Path, workflow_hash: str) -> Path:
        """The same package under another workflow hash (so another package hash)."""
        return _package(self.folder, out, workflow_hash)


def _clip(rng: np.random.Generator, kp: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random frames (coarse noise, upsampled) and slowly moving keypoints."""
    coarse = rng.integers(0, 256, (FRAMES, 8, 8, 3)).astype(np.uint8)
    frames = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)
    start = rng.uniform(-0.7, 0.7, (1, kp, 2))
    keypoints = start + np.cumsum(rng.normal(0, 0.05, (FRAMES, kp, 2)), axis=0)
    return frames, keypoints.astype(np.float32)


def _package(folder: Path, out: Path, workflow_hash: str) -> Path:
    specs = folder / "compile" / "specs"
    libraries, sources = {}, {}
    for spec_path in sorted(specs.glob("*.json")):
        engine = spec_path.stem
        sources[engine] = folder / "hls" / engine
        render_engine(engine, json.loads(spec_path.read_text()), sources[engine])
        libraries[engine] = build_engine(sources[engine], engine, folder / "build")
    compiled = folder / "compile"
    return package_overlay(
        out, toolchain="estimate", program_bin=compiled / "program.bin",
        program_json=compiled / "program.json", weights_bin=compiled / "weights.bin",
        workflow_hash=workflow_hash, versions={"test": "1"}, engine_sources=sources,
        build=build_info(), runtime=runtime_files(),
        engine_libs=libraries, repo_dir=folder)


def build_tiny_board(folder: Path, clips: int = 2, seed: int = 0) -> TinyBoard:
    """Compile, build and package the tiny decoder in ``folder``; encode ``clips`` clips."""
    qgraph = tiny_qgraph(seed)
    compile_tiny(folder, qgraph)
    package = _package(folder, folder / "overlay", "a" * 64)
    rng = np.random.default_rng(seed + 40)
    kp = qgraph.shapes["kp_source"][0]
    bitstreams, originals, golden = [], [], []
    for index in range(clips):
        path = folder / "codec" / f"test_{index:03d}.agc"
        frames, keypoints = _clip(rng, kp)
        encode_file(path, frames, keypoints, gop=GOP, fps=25, quality=90)
        bitstreams.append(path)
        originals.append(frames)
        predictions = run_golden(qgraph, *frame_inputs(decode_file(path)))["prediction"]
        golden.append([frame_sha256(p) for p in predictions])
    return TinyBoard(folder, package, bitstreams, originals, golden, qgraph,
                     build_info())
