"""Fixtures of the synthesis tests: the mock vendor tools on PATH."""

import os

import pytest
from synth_support import MOCKS, VENDOR, read_calls

from grace_flow import toolrun


class MockTools:
    """The mock vitis_hls / vivado on PATH, with what they were called with and ran."""

    def __init__(self, tmp_path):
        self.argv_file = tmp_path / "mock_argv.txt"
        self.record = tmp_path / "mock_record.txt"

    def argv(self) -> list[str]:
        """Every command line the mock tools received, in order."""
        return self.argv_file.read_text().splitlines() if self.argv_file.exists() else []

    def calls(self):
        """Every vendor Tcl command the mock tools executed, in order."""
        return read_calls(self.record) if self.record.exists() else []


@pytest.fixture
def mock_tools(tmp_path, monkeypatch):
    """Put the mock vendor tools first on PATH, recording into ``tmp_path``."""
    tools = MockTools(tmp_path)
    monkeypatch.setenv("PATH", f"{MOCKS}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MOCK_TOOLS_ARGV", str(tools.argv_file))
    monkeypatch.setenv("GRACE_STUB_RECORD", str(tools.record))
    monkeypatch.setenv("GRACE_FIXTURES", str(VENDOR))
    for name in ("GRACE_STUB_FAIL", "GRACE_STUB_SKIP", "MOCK_TOOLS_VERSION"):
        monkeypatch.delenv(name, raising=False)
    # Versions are cached per executable; start each test with a fresh probe to record.
    toolrun._cached_version.cache_clear()
    return tools
