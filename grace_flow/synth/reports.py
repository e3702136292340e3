"""Vendor report parsing: one entry point that recognises a report by its content and returns a
normalized record, shared by real reports and the analytic estimate.

Record keys (a key the report does not hold is absent, never zero):
  kind             hls_csynth_xml | hls_csynth_rpt | vivado_utilization | vivado_timing
                   | vivado_power
  tool             vivado_hls | vitis_hls | vivado
  tool_version     "2020.2"
  part             "xc7z020clg400-1" for 7-series parts, otherwise as the report writes it
  top              HLS top function or Vivado design name
  resources        {LUT, FF, BRAM18, DSP, URAM: int, available: {same keys}}
  latency_cycles   {min, max}; interval_cycles {min, max}
  clock_ns         {target, estimated, uncertainty}
  wns_ns, tns_ns, whs_ns, failing_endpoints        (timing summary)
  power_w          {total, dynamic, static}; junction_c           (power report)
  source           {file, kind}
"""

from __future__ import annotations

import re
from pathlib import Path

from .hls_reports import parse_csynth_rpt, parse_csynth_xml
from .report_text import ReportError, read_report_text
from .vivado_reports import parse_power, parse_timing, parse_utilization

__all__ = ["ReportError", "parse_report", "format_resources", "RESOURCE_ORDER"]

RESOURCE_ORDER = ("LUT", "FF", "BRAM18", "DSP", "URAM")

# Report kind -> patterns that identify it, tried in order on the first lines of the file.
_VIVADO_COMMANDS = {
    "vivado_utilization": ("report_utilization", "Utilization Design Information"),
    "vivado_timing": ("report_timing_summary", "Timing Summary Report"),
    "vivado_power": ("report_power", "Power Report"),
}
_PARSERS = {
    "hls_csynth_xml": parse_csynth_xml,
    "hls_csynth_rpt": parse_csynth_rpt,
    "vivado_utilization": parse_utilization,
    "vivado_timing": parse_timing,
    "vivado_power": parse_power,
}


def detect_kind(path: Path, text: str) -> str:
    """The report kind, read from the content: the XML root, the HLS title or Vivado's command."""
    head = text.lstrip()[:4000]
    if head.startswith("<"):
        return "hls_csynth_xml"
    if re.search(r"^== ((Vivado|Vitis) HLS Report for|Synthesis Summary Report of) '", head,
                 flags=re.MULTILINE):
        return "hls_csynth_rpt"
    command = re.search(r"^\| Command\s*:\s*(\S+)", head, flags=re.MULTILINE)
    for kind, (name, title) in _VIVADO_COMMANDS.items():
        if (command and command[1] == name) or (
            command is None and re.search(rf"^{title}\s*$", head, flags=re.MULTILINE)
        ):
            return kind
    raise ReportError(
        f"{path}: not a known report kind; expected an HLS csynth.xml or csynth.rpt, or a "
        "Vivado utilization, timing summary or power report"
    )


def parse_report(path: str | Path) -> dict:
    """Parse a Vivado HLS / Vitis HLS / Vivado report into the normalized record above.

    Raises ReportError (one line, naming the file) for a missing, empty, truncated or
    unrecognised report, or one from a tool release outside the supported range.
    """
    path = Path(path)
    text = read_report_text(path)
    kind = detect_kind(path, text)
    # The tools close every text report with blank lines; a copy cut short (disk full, killed
    # run) stops mid-line or mid-section. Most sections sit near the top, so check the end.
    if kind != "hls_csynth_xml" and not text.endswith("\n\n"):
        raise ReportError(
            f"{path}: report stops without its closing blank line; it looks truncated, "
            "rerun the step that writes it"
        )
    record = {"kind": kind, **_PARSERS[kind](path, text)}
    record["source"] = {"file": path.name, "kind": kind}
    return record


def format_resources(record: dict, available: dict | None = None) -> list[str]:
    """Lines such as "DSP 73 / 220 (33.2 %)", one per resource the record holds.

    `available` (e.g. the board's budget) overrides the counts the report gives; without either,
    a line shows the count alone.
    """
    if "resources" not in record:
        source = record.get("source", {}).get("file", "record")
        raise ReportError(f"{source}: holds no resource counts to format")
    used = record["resources"]
    limits = available if available is not None else used.get("available", {})
    lines = []
    for key in RESOURCE_ORDER:
        if key not in used:
            continue
        line = f"{key} {used[key]}"
        if key in limits:
            line += f" / {limits[key]}"
            if limits[key]:
                line += f" ({100 * used[key] / limits[key]:.1f} %)"
        lines.append(line)
    return lines
