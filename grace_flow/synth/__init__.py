from .reports import ReportError, format_resources, parse_report

__all__ = ["ReportError", "format_resources", "parse_report"]
