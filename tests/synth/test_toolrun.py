"""run_tool: versions, logs, declared outputs, and every failure path, with mock vendor tools."""

import re
import sys

import pytest
from synth_support import make_build, needs_tclsh

from grace_flow.synth.tcl import hls_script
from grace_flow.toolrun import ToolError, run_tool, tool_version

pytestmark = needs_tclsh


@pytest.fixture
def hls(tmp_path, board, mock_tools):
    """A written HLS script for 'conv' and the arguments run_tool gets for it."""
    script = hls_script(make_build(tmp_path, "conv"), board, tmp_path / "hls")
    script.write()
    return script, dict(cwd=script.path.parent, log_path=tmp_path / "logs" / "conv.log",
                        expect=list(script.outputs.values()))


def test_versions_are_read_from_the_tools(mock_tools):
    assert (tool_version("vitis_hls"), tool_version("vivado")) == ("2023.2", "2023.2")
    assert mock_tools.argv() == ["vitis_hls -version", "vivado -version"]


def test_a_run_logs_checks_outputs_and_records_the_version(hls, mock_tools):
    script, arguments = hls
    run = run_tool(["vitis_hls", "-f", "hls.tcl"], **arguments)
    assert run.version == "2023.2" and run.seconds > 0 and run.log == arguments["log_path"]
    assert run.log.read_text().splitlines()[0] == "# vitis_hls 2023.2: vitis_hls -f hls.tcl"
    assert mock_tools.argv() == ["vitis_hls -version", "vitis_hls -f hls.tcl"]
    calls = [call.name for call in mock_tools.calls()]
    assert calls.index("csynth_design") < calls.index("export_design")
    assert all((script.path.parent / path).is_file() for path in arguments["expect"])


@pytest.mark.parametrize("tool, settings", [("vitis_hls", "Vitis"), ("vivado", "Vivado")])
def test_tool_missing_from_path(tmp_path, monkeypatch, tool, settings):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match=f"^synth.toolchain: vitis needs {tool} on PATH: source "
                       f"the {settings} settings64.sh or use toolchain: estimate$"):
        run_tool([tool, "-f", "x.tcl"], tmp_path, tmp_path / "x.log", [])
    assert not (tmp_path / "x.log").exists()


def test_failing_tool_names_its_log_and_first_error(hls, monkeypatch):
    script, arguments = hls
    stale = script.path.parent / arguments["expect"][1]  # left by an earlier, good run
    stale.parent.mkdir(parents=True)
    stale.write_text("old IP")
    monkeypatch.setenv("GRACE_STUB_FAIL", "csynth_design")
    message = (f"vitis_hls failed with exit status 1 (see {arguments['log_path']}): ERROR: "
               "[Stub 1-1] csynth_design failed (GRACE_STUB_FAIL)")
    with pytest.raises(ToolError, match=f"^{re.escape(message)}$"):
        run_tool(["vitis_hls", "-f", "hls.tcl"], **arguments)
    assert not any((script.path.parent / path).exists() for path in arguments["expect"])


def test_tool_that_succeeds_without_its_output(hls, monkeypatch):
    script, arguments = hls
    monkeypatch.setenv("GRACE_STUB_SKIP", "export_design")
    message = ("vitis_hls exited without writing conv_prj/solution1/impl/ip/component.xml (see "
               f"{arguments['log_path']}); the outputs of this step were removed")
    with pytest.raises(ToolError, match=f"^{re.escape(message)}$"):
        run_tool(["vitis_hls", "-f", "hls.tcl"], **arguments)
    csynth = script.path.parent / arguments["expect"][0]
    assert not csynth.exists(), "the report of a half-finished run is removed too"


def test_unreadable_version(tmp_path, monkeypatch):
    fake = tmp_path / "vivado"
    fake.write_text("#!/bin/sh\necho 'license checkout failed'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match=r"^cannot read the version of vivado from `vivado "
                       r"-version` \(license checkout failed\); check the installation$"):
        tool_version("vivado")


def test_other_programs_use_the_same_helper(tmp_path):
    """A compiler run (C-sim's g++) goes through run_tool too: --version, log, outputs."""
    python = sys.executable
    run = run_tool([python, "-c", "open('out.txt', 'w').write('x')"], tmp_path,
                   tmp_path / "py.log", [tmp_path / "out.txt"])
    assert run.version == ".".join(map(str, sys.version_info[:3]))
    with pytest.raises(ToolError, match=re.escape(
            f"failed with exit status 3 (see {tmp_path / 'py.log'}): x.c:1: error: boom")):
        run_tool([python, "-c", "print('x.c:1: error: boom'); raise SystemExit(3)"], tmp_path,
                 tmp_path / "py.log", [tmp_path / "out.txt"])
    assert not (tmp_path / "out.txt").exists()
