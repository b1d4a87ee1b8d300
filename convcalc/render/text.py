"""Plain-text renderers: JSON (the public contract), CSV (exact integers) and Markdown."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Sequence

from convcalc.analysis.core import TOTAL_KEYS, Analysis
from convcalc.render.columns import Column, humanize, shape_text


def render_json(analysis: Analysis) -> str:
    return json.dumps(analysis.to_dict(), indent=2)


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        return " ".join(_csv_value(v) for v in value)  # a multi-output layer's pieces: 1x58x28x28 1x58x28x28
    if isinstance(value, (list, tuple)):
        return "x".join("" if v is None else str(v) for v in value)
    return value


def render_csv(analysis: Analysis, columns: Sequence[Column]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.key for c in columns])
    for report in analysis.layers:
        writer.writerow([_csv_value(c.value(report)) for c in columns])
    writer.writerow([
        "total" if i == 0 else (analysis.totals[c.key] if c.key in TOTAL_KEYS else
                                (_csv_value(analysis.output_shape) if c.key == "output_shape" else ""))
        for i, c in enumerate(columns)
    ])
    return out.getvalue()


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(analysis: Analysis, columns: Sequence[Column]) -> str:
    lines = [f"**{_md_escape(analysis.name)}** — input {shape_text(analysis.input_shape)}, "
             f"output {shape_text(analysis.output_shape)}", ""]
    lines.append("| " + " | ".join(c.header for c in columns) + " |")
    lines.append("|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|")
    for report in analysis.layers:
        lines.append("| " + " | ".join(_md_escape(c.text(c.value(report))) for c in columns) + " |")
    total_cells = []
    for i, c in enumerate(columns):
        if i == 0:
            total_cells.append("**total**")
        elif c.key in TOTAL_KEYS:
            total_cells.append(f"**{c.text(analysis.totals[c.key])}**")
        elif c.key == "output_shape":
            total_cells.append(shape_text(analysis.output_shape))
        else:
            total_cells.append("")
    lines.append("| " + " | ".join(total_cells) + " |")
    return "\n".join(lines) + "\n"


def render_plain(analysis: Analysis, columns: Sequence[Column], quiet: bool = False) -> str:
    """The table for pipes and files: aligned columns, no colour, no box drawing, one line per layer.

    Terminals get the rich table; output that goes elsewhere is meant for grep/awk and starts fast
    (rich's console is not imported).
    """
    header = [c.header for c in columns]
    rows = [[c.text(c.value(r)) for c in columns] for r in analysis.layers]
    totals = []
    for i, c in enumerate(columns):
        if i == 0:
            totals.append("Total")
        elif c.key in TOTAL_KEYS:
            totals.append(c.text(analysis.totals[c.key]))
        elif c.key == "output_shape":
            totals.append(shape_text(analysis.output_shape))
        else:
            totals.append("")
    table = [header, *rows, totals]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        parts = [cell.rjust(w) if col.numeric else cell.ljust(w) for cell, w, col in zip(cells, widths, columns)]
        return "  ".join(parts).rstrip()

    out = []
    if not quiet:
        out.append(f"{analysis.name} — input {shape_text(analysis.input_shape)}")
    out.append(line(header))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in rows)
    out.append("  ".join("-" * w for w in widths))
    out.append(line(totals))
    if not quiet:
        t = analysis.totals
        out.append(f"params {humanize(t['params'])} ({t['params']:,})   MACs {humanize(t['macs'])} ({t['macs']:,})   "
                   f"FLOPs {humanize(t['flops'])}   fvcore {humanize(t['fvcore_flops'])}   "
                   f"FlopCounterMode {humanize(t['torch_flops'])}")
    return "\n".join(out) + "\n"
