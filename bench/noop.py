"""Time a no-op `doit` (everything up to date) and `doit list` on a small workflow.

Usage: .venv/bin/python bench/noop.py [runs]
Builds the tiny test workflow once in a scratch folder, then times each command `runs` times
(default 5) and prints the median; the target is ≤ 0.5 s each.
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from doit_helpers import TINY_WORKFLOW  # noqa: E402


def doit(folder: Path, *args: str) -> float:
    command = [sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "-d", str(folder), *args,
               "workflow=w.yaml"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "w.yaml").write_text(TINY_WORKFLOW)
        build = doit(folder)
        noop = statistics.median(doit(folder) for _ in range(runs))
        listing = statistics.median(doit(folder, "list") for _ in range(runs))
    print(f"first build (tiny workflow): {build:.2f} s")
    print(f"no-op doit:  {noop:.3f} s (median of {runs}; target ≤ 0.5 s)")
    print(f"doit list:   {listing:.3f} s (median of {runs}; target ≤ 0.5 s)")


if __name__ == "__main__":
    main()
