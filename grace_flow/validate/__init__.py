"""Validation on the target: bit-exactness, quality, speed, energy; report.json and report.html."""

from pathlib import Path

#: The page of the report (html.render_report renders it).
REPORT_TEMPLATE = Path(__file__).with_name("templates") / "report.html.j2"
