"""Parsers for Vivado HLS / Vitis HLS synthesis reports: csynth.xml and the text csynth.rpt.

Each returns the fields of the normalized record (see `reports.parse_report`) that the report
holds; undefined latencies ('undef' in XML, '?' in text) are left out rather than guessed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .report_text import (
    ReportError,
    Table,
    check_tool_version,
    find_line,
    next_table,
    normalize_part,
    parse_number,
    version_key,
)

# Resource names as HLS writes them -> record keys. Vivado HLS calls the DSP slice 'DSP48E',
# Vitis HLS (2020.2+) 'DSP'; the text summary of Vitis HLS calls block RAM just 'BRAM'.
HLS_RESOURCE_KEYS = {
    "BRAM_18K": "BRAM18",
    "BRAM": "BRAM18",
    "DSP48E": "DSP",
    "DSP48": "DSP",
    "DSP": "DSP",
    "FF": "FF",
    "LUT": "LUT",
    "URAM": "URAM",
}
UNDEFINED = {"undef", "?", "-", ""}


def _count(path: Path, what: str, value: str) -> int:
    if not re.fullmatch(r"\d+", value):
        raise ReportError(f"{path}: {what} is '{value}', not a whole number")
    return int(value)


def _min_max(minimum: int | None, maximum: int | None) -> dict[str, int]:
    """A {min, max} pair holding only the defined halves."""
    pair = {"min": minimum, "max": maximum}
    return {side: value for side, value in pair.items() if value is not None}


def _put(record: dict, key: str, value: dict) -> None:
    if value:
        record[key] = value


# --- csynth.xml -------------------------------------------------------------------------------


def _xml_cycles(path: Path, element: ET.Element | None, side: str) -> int | None:
    if element is None:
        return None
    # Variable dataflow figures may come as <range><min/><max/></range> instead of a number.
    ranged = element.find(f"range/{side}")
    text = (ranged if ranged is not None else element).text or ""
    text = text.strip()
    return None if text in UNDEFINED else _count(path, f"<{element.tag}>", text)


def _xml_resources(path: Path, element: ET.Element | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for child in element if element is not None else []:
        key = HLS_RESOURCE_KEYS.get(child.tag)
        if key is not None:
            counts[key] = _count(path, f"<{child.tag}>", (child.text or "").strip())
    return counts


def _xml_float(path: Path, element: ET.Element | None) -> float | None:
    text = (element.text or "").strip() if element is not None else ""
    return None if text in UNDEFINED else parse_number(path, f"<{element.tag}>", text)


def parse_csynth_xml(path: Path, text: str) -> dict:
    """Fields of a csynth.xml written by Vivado HLS 2018.x-2020.1 or Vitis HLS 2020.2+."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, column = exc.position
        raise ReportError(
            f"{path}: XML does not parse at line {line}, column {column}; "
            "the report looks truncated"
        ) from None
    version = (root.findtext("ReportVersion/Version") or "").strip()
    if root.tag != "profile" or not version:
        raise ReportError(f"{path}: XML is not a csynth report (no <profile><ReportVersion>)")
    # The Vitis layout (indented, per-module <ModuleInformation>) started with 2020.2;
    # 2020.1 shipped both tools, so the structure decides there.
    is_vitis = version_key(version) >= (2020, 2) or root.find("ModuleInformation") is not None
    tool = "vitis_hls" if is_vitis else "vivado_hls"
    check_tool_version(path, tool, version)
    record: dict = {"tool": tool, "tool_version": version}
    user = root.find("UserAssignments")
    if user is not None and user.findtext("Part"):
        record["part"] = normalize_part(user.findtext("Part"))
    if user is not None and user.findtext("TopModelName"):
        record["top"] = user.findtext("TopModelName").strip()
    area = root.find("AreaEstimates")
    if area is None or area.find("Resources") is None:
        raise ReportError(f"{path}: no <AreaEstimates><Resources>; the report looks truncated")
    record["resources"] = _xml_resources(path, area.find("Resources"))
    available = _xml_resources(path, area.find("AvailableResources"))
    if available:
        record["resources"]["available"] = available
    clock = {
        "target": _xml_float(path, root.find("UserAssignments/TargetClockPeriod")),
        "estimated": _xml_float(
            path,
            root.find("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
        ),
        "uncertainty": _xml_float(path, root.find("UserAssignments/ClockUncertainty")),
    }
    _put(record, "clock_ns", {k: v for k, v in clock.items() if v is not None})
    overall = root.find("PerformanceEstimates/SummaryOfOverallLatency")
    if overall is not None:
        best, worst = overall.find("Best-caseLatency"), overall.find("Worst-caseLatency")
        latency = _min_max(_xml_cycles(path, best, "min"), _xml_cycles(path, worst, "max"))
        _put(record, "latency_cycles", latency)
        low, high = overall.find("Interval-min"), overall.find("Interval-max")
        interval = _min_max(_xml_cycles(path, low, "min"), _xml_cycles(path, high, "max"))
        _put(record, "interval_cycles", interval)
    return record


# --- csynth.rpt -------------------------------------------------------------------------------


def _banner(text: str, label: str) -> str | None:
    match = re.search(rf"^\s*\* {label}:\s+(\S+)", text, flags=re.MULTILINE)
    return match[1] if match else None


def _table_after(path: Path, lines: list[str], heading: str, what: str) -> Table:
    start = find_line(lines, heading)
    table = next_table(lines, start) if start is not None else None
    if table is None or not table.rows:
        raise ReportError(f"{path}: no {what} table; the report looks truncated")
    return table


def _cell_cycles(path: Path, cell: str) -> tuple[int | None, int | None]:
    """(min, max) of a latency/interval cell: '123', '10 ~ 4014004', or '?' when undefined."""
    if cell in UNDEFINED:
        return None, None
    low, _, high = cell.partition("~")
    low, high = low.strip(), (high.strip() or low.strip())
    minimum = None if low in UNDEFINED else _count(path, "latency cell", low)
    maximum = None if high in UNDEFINED else _count(path, "latency cell", high)
    return minimum, maximum


def _column_value(table: Table, row: list[str], *words: str, exclude=()) -> str | None:
    index = table.column(*words, exclude=exclude)
    return row[index] if index is not None and index < len(row) else None


def _old_style(path: Path, lines: list[str], record: dict) -> None:
    """The 'Vivado HLS Report for' layout (Vivado HLS 2018.x-2020.1)."""
    if find_line(lines, r"^== Interface") is None:
        raise ReportError(f"{path}: section '== Interface' is missing; the report looks truncated")
    timing = _table_after(path, lines, r"^\+ Timing", "'Timing' summary")
    clock = {}
    for key, column in (("target", "Target"), ("estimated", "Estimated"),
                        ("uncertainty", "Uncertainty")):
        value = _column_value(timing, timing.rows[0], column)
        if value is not None and value not in UNDEFINED:
            clock[key] = parse_number(path, f"'{column}' clock", value)
    _put(record, "clock_ns", clock)
    latency = _table_after(path, lines, r"^\+ Latency", "'Latency' summary")
    row = latency.rows[0]
    for key, group in (("latency_cycles", "latency"), ("interval_cycles", "interval")):
        # 2019.2+ add 'Latency (absolute)' columns in ns next to the cycle counts.
        low = _column_value(latency, row, group, "min", exclude=("absolute",))
        high = _column_value(latency, row, group, "max", exclude=("absolute",))
        _put(record, key, _min_max(_cell_cycles(path, low or "?")[0],
                                   _cell_cycles(path, high or "?")[1]))
    usage = _table_after(path, lines, r"^== Utilization Estimates", "utilization summary")
    resources = _old_resource_row(path, usage, "Total")
    available = _old_resource_row(path, usage, "Available")
    if available:
        resources["available"] = available
    record["resources"] = resources


def _old_resource_row(path: Path, usage: Table, label: str) -> dict[str, int]:
    """Resource counts of the 'Total' or 'Available' row of an old-style utilization summary."""
    cells = usage.row(label)
    if cells is None:
        raise ReportError(f"{path}: utilization summary has no '{label}' row")
    counts = {}
    for index, name in enumerate(usage.columns):
        key = HLS_RESOURCE_KEYS.get(name.upper())
        if key is not None and cells[index] not in UNDEFINED:
            counts[key] = _count(path, f"'{label}' {name}", cells[index])
    return counts


def _resource_cell(path: Path, name: str, cell: str) -> int:
    # Vitis prints '120 (7%)'; a module that uses none of a resource shows '-', not '0'.
    if cell == "-":
        return 0
    return _count(path, f"{name} cell", cell.split("(")[0].strip())


def _summary_style(path: Path, lines: list[str], record: dict) -> None:
    """The 'Synthesis Summary Report' layout (Vitis HLS 2020.2+): one tree table of modules."""
    table = _table_after(path, lines, r"^\+ Performance & Resource Estimates", "module summary")
    if not table.closed:
        raise ReportError(f"{path}: module summary table is cut off; the report looks truncated")
    top_row = next((row for row in table.rows if row[0].startswith("+")), None)
    if top_row is None:
        raise ReportError(f"{path}: module summary has no top-module ('+') row")
    latency = _column_value(table, top_row, "latency", "cycles")
    interval = _column_value(table, top_row, "interval")
    if latency is not None:
        _put(record, "latency_cycles", _min_max(*_cell_cycles(path, latency)))
    if interval is not None:
        _put(record, "interval_cycles", _min_max(*_cell_cycles(path, interval)))
    resources = {}
    for index, name in enumerate(table.columns):
        key = HLS_RESOURCE_KEYS.get(name.upper())
        if key is not None:
            resources[key] = _resource_cell(path, name, top_row[index])
    record["resources"] = resources


def parse_csynth_rpt(path: Path, text: str) -> dict:
    """Fields of a text csynth report, old 'Vivado HLS Report for' or Vitis 'Synthesis Summary'."""
    lines = text.splitlines()
    old = re.search(r"^== (Vivado|Vitis) HLS Report for '(.+)'", text, flags=re.MULTILINE)
    summary = re.search(r"^== Synthesis Summary Report of '(.+)'", text, flags=re.MULTILINE)
    tool = "vivado_hls" if old and old[1] == "Vivado" else "vitis_hls"
    version = _banner(text, "Version")
    if version is None:
        raise ReportError(f"{path}: no '* Version:' line in the report header")
    check_tool_version(path, tool, version)
    record: dict = {"tool": tool, "tool_version": version}
    part = _banner(text, "Target device")
    if part:
        record["part"] = normalize_part(part)
    record["top"] = old[2] if old else summary[1]
    if old:
        _old_style(path, lines, record)
    else:
        _summary_style(path, lines, record)
    return record
