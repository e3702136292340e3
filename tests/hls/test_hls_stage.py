"""hls_engine: a spec file in, rendered sources out; every spec-file mistake names the file."""

import json
import re

import pytest

from grace_flow.hls.render import render_engine
from grace_flow.engines.spec import SpecError, default_spec
from grace_flow.hls.stage import hls_engine


def test_hls_engine_renders_the_spec_file(tmp_path):
    """The stage renders exactly what render_engine renders for the file's spec."""
    spec = {**default_spec("conv"), "kernel_sizes": [3], "features": ["relu"]}
    spec_path = tmp_path / "specs" / "conv.json"
    spec_path.parent.mkdir()
    spec_path.write_text(json.dumps(spec))
    paths = hls_engine("conv", spec_path, tmp_path / "out")
    direct = render_engine("conv", spec, tmp_path / "direct")
    assert [p.name for p in paths] == [p.name for p in direct]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(paths, direct))


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "spec file missing; run the compile stage first"),
        ("{not json", "not a JSON spec (Expecting property name enclosed in double quotes: "
                      "line 1 column 2 (char 1))"),
        ("[1, 2]", "conv spec must be a mapping, got list"),
        (json.dumps({**default_spec("conv"), "strides": [5]}),
         "conv spec: strides must be a non-empty list of integers in [1, 4]"),
        (json.dumps({**default_spec("conv"), "unroll": 2}), "conv spec: unknown key 'unroll'"),
    ],
)
def test_hls_engine_bad_spec_file_is_one_line_naming_it(tmp_path, text, message):
    """Missing, malformed or unservable spec: one SpecError line, the file first."""
    spec_path = tmp_path / "conv.json"
    if text is not None:
        spec_path.write_text(text)
    with pytest.raises(SpecError, match=rf"^{re.escape(f'{spec_path}: {message}')}$"):
        hls_engine("conv", spec_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
