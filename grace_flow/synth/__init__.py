from .reports import ReportError, format_resources, parse_report
