"""Parsers for Vivado implementation reports: report_utilization, report_timing_summary and
report_power (Vivado 2018.x-2024.x text output).
"""

from __future__ import annotations

import re
from pathlib import Path

from .report_text import (
    ReportError,
    check_table_of_contents,
    check_tool_version,
    find_line,
    header_fields,
    next_table,
    normalize_part,
    parse_number,
)

# Record key -> 'Site Type' labels that carry it, first match wins. 7-series reports say
# 'Slice ...', UltraScale ones 'CLB ...'; synthesis reports mark estimates with '*'.
UTILIZATION_ROWS = {
    "LUT": ("Slice LUTs", "CLB LUTs"),
    "FF": ("Register as Flip Flop", "Slice Registers", "CLB Registers"),
    "BRAM_TILES": ("Block RAM Tile",),
    "DSP": ("DSPs",),
    "URAM": ("URAM",),
}
REQUIRED_UTILIZATION = ("LUT", "FF", "BRAM_TILES", "DSP")


def _banner(path: Path, text: str) -> dict:
    """Tool, version, design and part from the '| Key : value' banner every report starts with."""
    fields = header_fields(text)
    match = re.match(r"Vivado v\.?(\d{4}\.\d+(?:\.\d+)?)", fields.get("Tool Version", ""))
    if match is None:
        raise ReportError(f"{path}: no 'Tool Version : Vivado v.<release>' line in the banner")
    check_tool_version(path, "vivado", match[1])
    record: dict = {"tool": "vivado", "tool_version": match[1]}
    if fields.get("Design"):
        record["top"] = fields["Design"]
    if fields.get("Device"):
        # 'Speed File : -1  PRODUCTION 1.12 2019-11-22' carries the grade the Device line omits.
        speed = fields.get("Speed File", "").split()
        grade = speed[0] if speed and re.fullmatch(r"-\d+[a-z]?", speed[0]) else None
        record["part"] = normalize_part(fields["Device"], grade)
    return record


def _utilization_rows(lines: list[str]) -> dict[str, tuple[str, str]]:
    """(Used, Available) cells of every 'Site Type' row, keyed by the row label."""
    cells: dict[str, tuple[str, str]] = {}
    start = 0
    while (table := next_table(lines, start)) is not None:
        start = table.end_line
        site, used, available = (table.column("Site Type"), table.column("Used"),
                                 table.column("Available"))
        if site is None or used is None:
            continue
        for row in table.rows:
            label = " ".join(row[site].rstrip("*").split())
            limit = row[available] if available is not None else ""
            cells.setdefault(label, (row[used], limit))
    return cells


def parse_utilization(path: Path, text: str) -> dict:
    """Fields of a report_utilization report; BRAM is converted from 36 Kb tiles to BRAM18."""
    record = _banner(path, text)
    check_table_of_contents(path, text)
    rows = _utilization_rows(text.splitlines())
    used: dict[str, float] = {}
    available: dict[str, float] = {}
    for key, labels in UTILIZATION_ROWS.items():
        label = next((name for name in labels if name in rows), None)
        if label is None:
            if key in REQUIRED_UTILIZATION:
                raise ReportError(f"{path}: no '{labels[0]}' row; the report looks truncated")
            continue
        used[key] = parse_number(path, f"'{label}' Used", rows[label][0])
        if rows[label][1]:
            available[key] = parse_number(path, f"'{label}' Available", rows[label][1])
    # A Block RAM tile is one RAMB36 or two RAMB18, so half tiles ('2.5') are whole BRAM18s.
    for counts in (used, available):
        if "BRAM_TILES" in counts:
            counts["BRAM18"] = counts.pop("BRAM_TILES") * 2
    resources: dict = {key: int(value) for key, value in used.items()}
    if available:
        resources["available"] = {key: int(value) for key, value in available.items()}
    record["resources"] = resources
    return record


def _dashed_table(path: Path, lines: list[str], heading: str) -> tuple[list[str], list[str]]:
    """Column names and first value row of a whitespace table underlined with dashes."""
    start = find_line(lines, heading)
    dashes = find_line(lines, r"^\s*-+(\s+-+)+\s*$", start) if start is not None else None
    if dashes is None or dashes + 1 >= len(lines):
        raise ReportError(f"{path}: no '{heading.strip('^|')}' table; the report looks truncated")
    spans = [m.span() for m in re.finditer(r"-+", lines[dashes])]
    names = [" ".join(lines[dashes - 1][a:b].split()) for a, b in spans]
    # Values can be wider than their dashes ('-253.749'), so split on blanks, not positions;
    # waveforms such as '{0.000 5.000}' hold a blank inside braces.
    values = re.findall(r"\{[^}]*\}|\S+", lines[dashes + 1])
    if len(values) != len(names):
        raise ReportError(f"{path}: '{heading.strip('^|')}' row does not match its header")
    return names, values


def _clock_periods(lines: list[str]) -> dict[str, float]:
    """Period of each clock listed in the 'Clock Summary' table."""
    start = find_line(lines, r"^\| Clock Summary")
    dashes = find_line(lines, r"^-+(\s+-+)+\s*$", start) if start is not None else None
    if dashes is None:
        return {}
    names = lines[dashes - 1].split()
    period_column = next((i for i, name in enumerate(names) if name.startswith("Period")), None)
    periods = {}
    for line in lines[dashes + 1 :]:
        values = re.findall(r"\{[^}]*\}|\S+", line)
        if period_column is None or len(values) <= period_column:
            break
        if re.fullmatch(r"\d+(\.\d+)?", values[period_column]):
            periods[values[0]] = float(values[period_column])
    return periods


def parse_timing(path: Path, text: str) -> dict:
    """Fields of a report_timing_summary report: WNS/TNS/WHS and, for one clock, its period."""
    record = _banner(path, text)
    lines = text.splitlines()
    names, values = _dashed_table(path, lines, r"^\| Design Timing Summary")
    summary = dict(zip(names, values))
    for key, column in (("wns_ns", "WNS(ns)"), ("tns_ns", "TNS(ns)"), ("whs_ns", "WHS(ns)")):
        # An unconstrained design reports 'inf' or 'NA': nothing was checked, so leave it out.
        if re.fullmatch(r"-?\d+(\.\d+)?", summary.get(column, "")):
            record[key] = float(summary[column])
    if re.fullmatch(r"\d+", summary.get("TNS Failing Endpoints", "")):
        record["failing_endpoints"] = int(summary["TNS Failing Endpoints"])
    periods = _clock_periods(lines)
    if len(periods) == 1:
        record["clock_ns"] = {"target": next(iter(periods.values()))}
    return record


POWER_ROWS = {
    "total": "Total On-Chip Power (W)",
    "dynamic": "Dynamic (W)",
    "static": "Device Static (W)",
}


def parse_power(path: Path, text: str) -> dict:
    """Fields of a report_power report: total, dynamic and static on-chip power in W."""
    record = _banner(path, text)
    check_table_of_contents(path, text)
    lines = text.splitlines()
    summary: dict[str, str] = {}
    start = 0
    # The summary is the first key/value table holding the total; the banner precedes it.
    while not summary and (table := next_table(lines, start)) is not None:
        start = table.end_line
        rows = {row[0]: row[1] for row in table.rows if len(row) == 2}
        summary = rows if POWER_ROWS["total"] in rows else {}
    if not summary:
        raise ReportError(f"{path}: no 'Total On-Chip Power (W)' row in the power summary")
    power = {}
    for key, label in POWER_ROWS.items():
        if re.fullmatch(r"\d+(\.\d+)?", summary.get(label, "")):
            power[key] = float(summary[label])
    record["power_w"] = power
    junction = summary.get("Junction Temperature (C)", "")
    if re.fullmatch(r"-?\d+(\.\d+)?", junction):
        record["junction_c"] = float(junction)
    return record
