"""Turning an Analysis into text: rich tables, JSON, CSV and Markdown. rich is imported only in table.py."""

from convcalc.render.columns import COLUMN_SETS, Column, humanize
from convcalc.render.text import render_csv, render_json, render_markdown

__all__ = ["COLUMN_SETS", "Column", "humanize", "render_csv", "render_json", "render_markdown"]
