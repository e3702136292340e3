"""The runtime's command line on the target: ``python3 board.py <command>`` in a package.

    check   open the package: verify every sha256, load the engines (building emulated ones the
            target needs), write the weights into DDR; print what ran as JSON
    decode  decode AGC bitstream files: the co-processor's frames to --out (.npz, one uint8
            [T, 3, H, W] array per file), their sha256 and timings as JSON on stdout

Messages for a person go to stderr as ``note: ...`` lines; with --progress, ``progress <done>
<total>`` lines too (the host draws the bar). A failure is one ``error: ...`` line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np

from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_save_npz
from grace_flow.runtime.decode import decode_frames, frame_sha256
from grace_flow.runtime.package import BACKENDS, MANIFEST, open_package

#: Where a shipped runtime lives: <package>/grace_flow/runtime/cli.py.
_SHIPPED_IN = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="board.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "decode"):
        command = commands.add_parser(name)
        command.add_argument("--package", type=Path, default=_SHIPPED_IN,
                             help="the package folder (default: the one holding this runtime)")
        command.add_argument("--backend", choices=BACKENDS, default="auto")
        command.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "grace_flow",
                             help="where engines built on this target are kept")
    decode = commands.choices["decode"]
    decode.add_argument("bitstreams", nargs="+", type=Path)
    decode.add_argument("--out", type=Path, required=True, help="frames file (.npz)")
    decode.add_argument("--tensors", nargs=3, metavar=("FILE_INDEX", "FRAME", "OUT"),
                        help="also save every tensor of one frame (.npz), for a mismatch")
    decode.add_argument("--progress", action="store_true", help="print progress lines")
    return parser


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr, flush=True)


def _decode(runner, args) -> list[dict]:
    from grace_flow.codec import decode_file

    clips = [decode_file(path) for path in args.bitstreams]
    total, done = sum(clip.frame_count for clip in clips), 0
    frames, results = {}, []
    for index, (path, clip) in enumerate(zip(args.bitstreams, clips)):
        predictions, seconds = [], []
        start = time.perf_counter()
        for outputs, _ in decode_frames(runner, clip):
            seconds.append(time.perf_counter() - start)
            predictions.append(outputs["prediction"])
            done += 1
            if args.progress:
                print(f"progress {done} {total}", file=sys.stderr, flush=True)
            start = time.perf_counter()
        frames[f"clip_{index:03d}"] = np.stack(predictions)
        results.append({"file": path.name, "frames": clip.frame_count,
                        "sha256": [frame_sha256(p) for p in predictions],
                        "seconds": round(sum(seconds), 6)})
    atomic_save_npz(args.out, **frames)
    if args.tensors:
        index, frame, out = int(args.tensors[0]), int(args.tensors[1]), Path(args.tensors[2])
        *_, (_, tensors) = islice(decode_frames(runner, clips[index], every_tensor=True),
                                  frame + 1)
        atomic_save_npz(out, **tensors)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run one command; 0 on success, 2 (after one ``error:`` line) on a FlowError."""
    args = _parser().parse_args(argv)
    try:
        if not (args.package / MANIFEST).is_file():
            raise FlowError(f"{args.package}: no {MANIFEST}: give the package with --package")
        runner, facts = open_package(args.package, backend=args.backend, cache_dir=args.cache,
                                     note=_note)
        facts["runtime"] = str(Path(__file__).resolve().parents[1])
        if args.command == "decode":
            facts["clips"] = _decode(runner, args)
    except FlowError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    print(json.dumps(facts))
    return 0
