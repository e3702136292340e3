"""docs/engines.md states the register interface of grace_flow/engines/registers.py, not another."""

import re
from pathlib import Path

import pytest

from grace_flow.engines.registers import REGISTERS, STATUS

DOC = Path(__file__).resolve().parents[2] / "docs" / "engines.md"
ROW = re.compile(r"^\| (\d+) \| `(\w+)` \| (.+) \|$")


def _section(engine: str) -> str:
    """The text from the engine's '## n. <engine>' heading to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    start = re.search(rf"^## \d+\. {engine}$", text, re.MULTILINE).end()
    end = text.find("\n## ", start)
    return text[start : end if end > 0 else len(text)]


@pytest.mark.parametrize("engine", REGISTERS)
def test_register_table_matches(engine):
    """Each engine's table lists its registers in order with the meaning from the one table."""
    rows = [ROW.match(line) for line in _section(engine).splitlines()]
    documented = [(int(m[1]), m[2], m[3]) for m in rows if m]
    expected = [(i, reg.name, reg.doc) for i, reg in enumerate(REGISTERS[engine])]
    assert documented == expected


def test_status_table_matches():
    """The status codes are documented as the engines return them."""
    text = DOC.read_text(encoding="utf-8")
    for code, (name, meaning) in STATUS.items():
        assert f"| {code} | {name} | {meaning}" in text
