"""The whole vitis toolchain path with mock vitis_hls / vivado: five engines through Vitis HLS,
the overlay through Vivado, and every report parsed with parse_report."""

import re
import shutil

import pytest
from synth_support import ENGINES, VENDOR, make_build, needs_tclsh

from grace_flow.synth import ReportError
from grace_flow.synth.tcl import engine_ip
from grace_flow.synth.vitis import synth_engine, synth_system

pytestmark = [needs_tclsh]


def test_engines_then_system(tmp_path, board, mock_tools):
    clock_ns = board.clock_ns(142.857)
    ips = []
    for name in ENGINES:
        build = make_build(tmp_path, name, clock_ns=clock_ns)
        record = synth_engine(build, board, tmp_path / "synth" / name)
        # The mock copies one real Vitis HLS 2024.1 report (pynqz2_axil_conv2d) for every engine.
        assert record["kind"] == "hls_csynth_xml" and record["part"] == board.part
        assert record["resources"]["DSP"] == 7
        assert record["toolchain"] == "vitis"
        assert record["run"]["tool"] == "vitis_hls" and record["run"]["version"] == "2023.2"
        assert record["outputs"]["csynth_xml"] == f"{name}_prj/solution1/syn/report/csynth.xml"
        ips.append(engine_ip(build.name, tmp_path / "synth" / name))
    assert all((ip.repo / "component.xml").is_file() for ip in ips)

    system = synth_system(ips, board, 142.857, tmp_path / "synth" / "system", jobs=2)
    assert system["utilization"]["resources"]["DSP"] == 10
    assert system["timing"]["wns_ns"] == 2.123
    assert system["power"]["power_w"]["total"] == 1.42
    assert system["run"]["tool"] == "vivado" and system["toolchain"] == "vitis"
    folder = tmp_path / "synth" / "system"
    assert (folder / system["outputs"]["bitstream"]).is_file()
    assert (folder / system["outputs"]["hwh"]).read_bytes().startswith(b"\xef\xbb\xbf<?xml")

    argv = mock_tools.argv()
    assert argv == ["vitis_hls -version", *["vitis_hls -f hls.tcl"] * 5, "vivado -version",
                    "vivado -mode batch -nojournal -nolog -source system.tcl"]
    calls = mock_tools.calls()
    clocks = [call.options["-period"] for call in calls if call.name == "create_clock"]
    assert clocks == ["7.000"] * 5
    launches = [(call.args, call.options) for call in calls if call.name == "launch_runs"]
    assert launches == [(["synth_1"], {"-jobs": "2"}),
                        (["impl_1"], {"-to_step": "write_bitstream", "-jobs": "2"})]


def test_rerun_rewrites_nothing_it_need_not(tmp_path, board, mock_tools):
    build = make_build(tmp_path, "conv")
    synth_engine(build, board, tmp_path / "conv")
    script = tmp_path / "conv" / "hls.tcl"
    before = script.stat().st_mtime_ns
    synth_engine(build, board, tmp_path / "conv")
    assert script.stat().st_mtime_ns == before


def test_report_for_another_part_is_refused(tmp_path, board, mock_tools, monkeypatch):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(VENDOR, fixtures)
    shutil.copy(VENDOR / "csynth" / "lenet5_z7100.csynth.xml",
                fixtures / "csynth" / "pynqz2_axil_conv2d.csynth.xml")
    monkeypatch.setenv("GRACE_FIXTURES", str(fixtures))
    folder = tmp_path / "conv"
    report = folder / "conv_prj/solution1/syn/report/csynth.xml"
    message = (f"{report}: synthesized for xc7z100ffg900-2, not the board's xc7z020clg400-1; "
               f"delete {folder} and rerun")
    with pytest.raises(ReportError, match=f"^{re.escape(message)}$"):
        synth_engine(make_build(tmp_path, "conv"), board, folder)
