"""Shared pieces of the vendor report parsers: the error type, file reading, tool-version and part
checks, and reading of the ASCII tables that Vivado and Vivado/Vitis HLS print.

Tables are read by header name, never by column index: columns move between tool versions
(Vivado 2022.1 added 'Prohibited', Vitis HLS reshuffles its summary), so every lookup goes
through the header text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grace_flow.errors import FlowError


class ReportError(FlowError):
    """A vendor report is missing, truncated, of an unknown kind or from an unsupported tool."""


# Oldest and newest release whose report layout these parsers were checked against, per tool.
SUPPORTED_VERSIONS = {
    "vivado_hls": ((2018, 1), (2020, 1)),
    "vitis_hls": ((2020, 1), (2024, 2)),
    "vivado": ((2018, 1), (2024, 2)),
}
TOOL_NAMES = {"vivado_hls": "Vivado HLS", "vitis_hls": "Vitis HLS", "vivado": "Vivado"}


def read_report_text(path: Path) -> str:
    """Return the report's text with any byte-order mark and Windows line endings removed."""
    if not path.is_file():
        raise ReportError(f"{path}: no such report file; run the step that writes it first")
    text = path.read_bytes().decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
    if not text.strip():
        raise ReportError(f"{path}: report file is empty; rerun the step that writes it")
    return text


def check_tool_version(path: Path, tool: str, version: str) -> None:
    """Raise ReportError unless `version` ("2020.2") lies in the range supported for `tool`."""
    match = re.fullmatch(r"(\d{4})\.(\d+)(?:\.\d+)*", version)
    if match is None:
        raise ReportError(f"{path}: cannot read the {TOOL_NAMES[tool]} version from '{version}'")
    oldest, newest = SUPPORTED_VERSIONS[tool]
    if not oldest <= (int(match[1]), int(match[2])) <= newest:
        supported = f"{oldest[0]}.{oldest[1]} to {newest[0]}.{newest[1]}"
        raise ReportError(
            f"{path}: {TOOL_NAMES[tool]} {version} is outside the supported range {supported}; "
            "regenerate the report with a supported release"
        )


def parse_number(path: Path, what: str, text: str) -> float:
    """``text`` as a float; a one-line ReportError naming ``what`` in ``path`` if it is not one."""
    try:
        return float(text)
    except ValueError:
        raise ReportError(f"{path}: {what} is '{text}', not a number") from None


def version_key(version: str) -> tuple[int, int]:
    """(year, release) of a version string such as "2020.2"; used to order tool releases."""
    year, release = version.split(".")[:2]
    return int(year), int(release)


# 7-series part: device (7z020, 7a35t, 7k160t), package (clg400, ffg900), optional speed grade.
_SEVEN_SERIES_PART = re.compile(r"(?:xc)?(7[azkvs]\d+t?)-?([a-z]+\d+)(-\d+[a-z]?)?")


def normalize_part(part: str, speed_grade: str | None = None) -> str:
    """Write a 7-series part the way Vivado's -part option does ("xc7z020clg400-1").

    Reports variously write "xc7z020-clg400-1" (HLS), "7z020clg400-1" (utilization up to 2020)
    and "7z020-clg400" with the speed grade on a separate 'Speed File' line (timing summary);
    `speed_grade` ("-1") supplies that grade. Other families are returned as the report wrote them.
    """
    match = _SEVEN_SERIES_PART.fullmatch(part.strip().lower())
    if match is None:
        return part.strip()
    device, package, grade = match.groups()
    grade = grade or speed_grade or ""
    return f"xc{device}{package}{grade}"


def header_fields(text: str) -> dict[str, str]:
    """The '| Key : value' lines of a Vivado report banner, keyed by their label."""
    fields = {}
    for match in re.finditer(r"^\| ([A-Za-z][A-Za-z ]*?)\s*:\s*(.*)$", text, flags=re.MULTILINE):
        fields.setdefault(match[1], match[2].strip())
    return fields


def check_table_of_contents(path: Path, text: str) -> None:
    """Raise ReportError when a section listed in the report's table of contents is missing.

    Vivado prints the whole table of contents first, so a report cut short by a full disk or a
    killed run still lists the sections it lost.
    """
    match = re.search(r"^Table of Contents\n-+\n((?:.+\n)+)", text, flags=re.MULTILINE)
    if match is None:
        raise ReportError(f"{path}: no table of contents; the report looks truncated")
    body = text[match.end():]
    for entry in match[1].splitlines():
        if not re.search(rf"^{re.escape(entry.strip())}\s*$", body, flags=re.MULTILINE):
            raise ReportError(
                f"{path}: section '{entry.strip()}' is missing; the report looks truncated"
            )


@dataclass
class Table:
    """An ASCII table: column names (multi-line headers joined) and rows of stripped cells."""

    columns: list[str]
    rows: list[list[str]]
    end_line: int
    closed: bool

    def column(self, *words: str, exclude: tuple[str, ...] = ()) -> int | None:
        """Index of the first column whose name contains every word and none of `exclude`."""
        for index, name in enumerate(self.columns):
            lowered = name.lower()
            if all(w.lower() in lowered for w in words) and not any(
                x.lower() in lowered for x in exclude
            ):
                return index
        return None

    def row(self, label: str) -> list[str] | None:
        """First row whose first cell, without footnote asterisks, equals `label`."""
        for cells in self.rows:
            if cells and cells[0].rstrip("*").strip().lower() == label.lower():
                return cells
        return None


def _split_row(line: str, spans: list[tuple[int, int]]) -> list[str]:
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    if len(cells) == len(spans):
        return cells
    # A cell holding '|' itself: fall back to the border's column positions.
    return [line[start + 1 : end].strip() for start, end in spans]


def _header_names(header_lines: list[str], spans: list[tuple[int, int]]) -> list[str]:
    names: list[list[str]] = [[] for _ in spans]
    for line in header_lines:
        bars = [i for i, char in enumerate(line) if char == "|"]
        for index, (start, end) in enumerate(spans):
            # A header cell may span several columns ('Latency' over 'min' and 'max').
            for left, right in zip(bars, bars[1:]):
                if left <= start and end <= right:
                    text = line[left + 1 : right].strip()
                    if text:
                        names[index].append(text)
                    break
    return [" ".join(" ".join(parts).split()) for parts in names]


def next_table(lines: list[str], start: int) -> Table | None:
    """The first '+---+' bordered table at or after line `start`, or None."""
    index = start
    while index < len(lines) and not lines[index].lstrip().startswith("+-"):
        index += 1
    if index == len(lines):
        return None
    block = []
    while index < len(lines) and lines[index].lstrip()[:1] in ("+", "|"):
        block.append(lines[index])
        index += 1
    border = block[0]
    corners = [i for i, char in enumerate(border) if char == "+"]
    spans = list(zip(corners, corners[1:]))
    borders = [i for i, line in enumerate(block) if line.lstrip().startswith("+")]
    if len(borders) >= 3:
        header = block[borders[0] + 1 : borders[1]]
        body = block[borders[1] + 1 :]
    else:
        # Two-column key/value tables (power summary) have no header row.
        header, body = [], block[1:]
    rows = [_split_row(line, spans) for line in body if line.lstrip().startswith("|")]
    closed = len(borders) >= 2 and borders[-1] == len(block) - 1
    return Table(_header_names(header, spans), rows, index, closed)


def find_line(lines: list[str], pattern: str, start: int = 0) -> int | None:
    """Index of the first line at or after `start` matching the regular expression `pattern`."""
    compiled = re.compile(pattern)
    for index in range(start, len(lines)):
        if compiled.search(lines[index]):
            return index
    return None
