"""The assessment report: one self-contained HTML file (inline CSS and SVG, no scripts)."""

from .html import render_report, write_report

__all__ = ["render_report", "write_report"]
