"""Decoding the test bitstreams on the target, through the runtime installed there.

The bitstreams go to the target's work/ folder; the installed package's board.py decodes them
(its ``progress`` lines drive a bar here, its ``note`` lines are shown); the frames come back as
one .npz. The sha256 of every frame is computed on the target.
"""

from __future__ import annotations

from pathlib import Path

from grace_flow.deploy.targets import Target, show_note
from grace_flow.progress import progress


def _lines(target: Target, bar):
    def on_line(line: str) -> None:
        if line.startswith("progress "):
            done, total = (int(n) for n in line.split()[1:3])
            bar.total = total
            bar.update(done - bar.n)
        else:
            show_note(target, line)
    return on_line


def decode_on_target(target: Target, version: str, bitstreams: list[Path], local_dir: Path,
                     tensors: tuple[int, int] | None = None) -> dict:
    """Decode ``bitstreams`` with installed version ``version``: the runtime's JSON facts.

    The frames land in local_dir/frames.npz; with ``tensors`` (file index, frame), every tensor
    of that frame in local_dir/tensors.npz too.
    """
    work = target.op("work")["work"]
    for path in bitstreams:
        target.put(Path(path), f"work/{Path(path).name}", lambda sent: None)
    args = ["decode", "--cache", f"{target.root}/cache", "--out", f"{work}/frames.npz",
            "--progress", *(f"{work}/{Path(p).name}" for p in bitstreams)]
    if tensors is not None:
        args += ["--tensors", str(tensors[0]), str(tensors[1]), f"{work}/tensors.npz"]
    with progress(desc="decode on target", unit="frame") as bar:
        facts = target.runtime(f"versions/{version}", *args, on_line=_lines(target, bar))
    Path(local_dir).mkdir(parents=True, exist_ok=True)
    target.get("work/frames.npz", Path(local_dir) / "frames.npz")
    if tensors is not None:
        target.get("work/tensors.npz", Path(local_dir) / "tensors.npz")
    return facts
