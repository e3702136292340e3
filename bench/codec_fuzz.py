"""Fuzz the AGC decoder with many random mutations of a valid bitstream and print the outcomes.

Usage: python bench/codec_fuzz.py [mutations=20000] [seed=0] [size=32]

Every mutation must either decode or raise CodecError; the script prints the count per
(mutation, outcome), any other exception, and the slowest decode. Exit status 1 on a failure.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from grace_flow.codec import encode_clip
from grace_flow.codec.mutate import fuzz


def smooth_clip(size: int, frames: int, num_kp: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth moving colour pattern and random-walk keypoints: a stand-in talking-face clip."""
    y, x = np.mgrid[0:size, 0:size] / size
    clip = np.stack(
        [
            np.stack([np.sin(6 * x + t / 3), np.cos(5 * y - t / 4), np.sin(4 * (x + y))], -1)
            for t in range(frames)
        ]
    )
    rng = np.random.default_rng(0)
    keypoints = np.cumsum(rng.normal(0, 0.02, (frames, num_kp, 2)), axis=0)
    return (127.5 + 120 * clip).astype(np.uint8), np.clip(keypoints, -1, 1)


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 20000
    seed = int(argv[2]) if len(argv) > 2 else 0
    size = int(argv[3]) if len(argv) > 3 else 32
    frames, keypoints = smooth_clip(size, frames=7, num_kp=10)
    data = encode_clip(frames, keypoints, gop=3, fps=25.0, quality=60)
    print(f"bitstream: {len(data)} bytes ({size}x{size}, 7 frames, gop 3); {count} mutations")
    start = time.perf_counter()
    report = fuzz(data, count, seed)
    elapsed = time.perf_counter() - start
    for outcome, number in sorted(report.outcomes.items()):
        print(f"{number:8d}  {outcome}")
    print(f"total {sum(report.outcomes.values())} in {elapsed:.1f} s;"
          f" slowest decode {report.slowest_seconds * 1000:.2f} ms ({report.slowest_mutation})")
    for failure in report.failures:
        print("FAIL", failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
