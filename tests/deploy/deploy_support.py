"""What the deploy tests check after every deployment or fault: the target's state and that
what it runs decodes every test frame bit-exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grace_flow.deploy.stage import version_of
from grace_flow.runtime.decode import frame_sha256
from grace_flow.runtime.package import package_hash
from grace_flow.validate.target import decode_on_target


def assert_current(target, package: Path, previous: Path | None = None) -> None:
    """``current`` (and ``previous``) on the target are these packages, fully installed."""
    status = target.op("status")
    assert status["current"] == version_of(package_hash(package))
    assert status["previous"] == (version_of(package_hash(previous)) if previous else None)
    assert status["staging"] == []
    assert set(status["versions"]) == {v for v in (status["current"], status["previous"]) if v}


def assert_validates(target, board, local: Path) -> dict:
    """The target's current version decodes every test frame equal to the golden model's."""
    version = target.op("status")["current"]
    facts = decode_on_target(target, version, board.bitstreams, local)
    assert [clip["sha256"] for clip in facts["clips"]] == board.golden
    with np.load(local / "frames.npz") as frames:
        assert [[frame_sha256(f) for f in frames[k]] for k in sorted(frames.files)] == \
            board.golden
    return facts


def read_receipt(path: Path) -> dict:
    return json.loads(path.read_text())
