"""csim_engine: build, self-test, JSON report; a mismatch is one line naming case and report."""

import json
import re

import numpy as np
import pytest

from grace_flow.csim import stage
from grace_flow.runtime.engines import EngineLibrary
from grace_flow.csim.selftest import spec_hash
from grace_flow.csim.stage import SelftestError, csim_engine
from grace_flow.engines.spec import default_spec
from grace_flow.hls.stage import hls_engine

SPEC = {**default_spec("upsample"), "max_width": 32}


@pytest.fixture
def rendered(tmp_path):
    """(spec file, sources folder) of an upsample engine rendered for SPEC."""
    spec_path = tmp_path / "upsample.json"
    spec_path.write_text(json.dumps(SPEC))
    hls_engine("upsample", spec_path, tmp_path / "src")
    return spec_path, tmp_path / "src"


def test_csim_engine_writes_the_report(tmp_path, rendered):
    """A bit-exact engine: the report names engine, spec, cases, coverage and its library."""
    spec_path, sources = rendered
    report_path = tmp_path / "reports" / "upsample.json"
    library = tmp_path / "reports" / "upsample.so"
    report = csim_engine("upsample", spec_path, sources, tmp_path / "build", report_path, library)
    assert json.loads(report_path.read_text()) == report
    assert report["engine"] == "upsample" and report["spec_hash"] == spec_hash(SPEC)
    assert (report["cases"], report["passed"], report["first_failure"]) == (50, 50, None)
    assert report["coverage"]["modes"] == ["field", "map"]
    assert "max_width" in report["coverage"]["edges"]
    built = [p for p in (tmp_path / "build").iterdir() if p.suffix == ".so"]
    assert len(built) == 1 and re.fullmatch(r"upsample-[0-9a-f]{16}\.so", built[0].name)
    assert library.read_bytes() == built[0].read_bytes()  # the tested library, under its name
    assert sorted(p.name for p in report_path.parent.iterdir()) == ["upsample.json", "upsample.so"]


class _OffByOne(EngineLibrary):
    """The real engine, but output element 0 of the 18th instruction comes out one too high."""

    calls = 0

    def run(self, ddr, regs):
        super().run(ddr, regs)
        if _OffByOne.calls == 17:
            ddr[regs["out_off"]] += np.uint8(1)
        _OffByOne.calls += 1


def test_csim_engine_mismatch_is_one_line(tmp_path, rendered, monkeypatch):
    """csim:<engine>: case N tensor T: first difference at (...): got G, want W; report: path."""
    spec_path, sources = rendered
    monkeypatch.setattr(stage, "EngineLibrary", _OffByOne)
    monkeypatch.setattr(_OffByOne, "calls", 0)
    report_path = tmp_path / "upsample.json"
    with pytest.raises(SelftestError) as raised:
        csim_engine("upsample", spec_path, sources, tmp_path / "build", report_path,
                    tmp_path / "upsample.so")
    failure = json.loads(report_path.read_text())["first_failure"]
    index = (0,) * (3 if failure["case"] % 2 == 0 else 4)  # map [C, H, W], field [C, H, W, 2]
    match = re.fullmatch(r"first difference at (\(.*\)): got (-?\d+), want (-?\d+)",
                         failure["problem"])
    assert (failure["case"], failure["tensor"]) == (17, "out") and match[1] == str(index)
    assert str(raised.value) == (f"csim:upsample: case 17 tensor out: {failure['problem']}; "
                                 f"report: {report_path}")
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "upsample.so").exists()  # an engine that failed is not passed on


def test_csim_engine_refuses_sources_of_another_spec(tmp_path, rendered):
    """Sources rendered for another spec are refused before any case runs."""
    spec_path, sources = rendered
    spec_path.write_text(json.dumps(default_spec("upsample")))
    with pytest.raises(SelftestError, match=r"^csim:upsample: .*upsample_config\.h has inputs "
                                            r"[0-9a-f]{12}, the spec [0-9a-f]{12}; rerun "
                                            r"hls:upsample$"):
        csim_engine("upsample", spec_path, sources, tmp_path / "build", tmp_path / "r.json",
                    tmp_path / "r.so")
    assert not (tmp_path / "r.json").exists()
