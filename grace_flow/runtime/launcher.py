"""The package's entry point, shipped as <package>/board.py: ``python3 board.py <command>``.

It puts the package folder first on sys.path, so the runtime that runs is the one shipped beside
it (its files are in the manifest), whatever else the target's Python has installed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from grace_flow.runtime.cli import main  # noqa: E402  (after the path is set)

sys.exit(main())
