"""The rich table for terminals (the only renderer that imports rich)."""

from __future__ import annotations

from typing import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from convcalc.analysis.core import TOTAL_KEYS, Analysis
from convcalc.render.columns import Column, humanize, shape_text


def render_table(analysis: Analysis, columns: Sequence[Column], console: Console, quiet: bool = False) -> None:
    title = None if quiet else f"{analysis.name} — input {shape_text(analysis.input_shape)}"
    table = Table(title=title, title_justify="left", show_footer=True, header_style="bold",
                  footer_style="bold")
    for i, column in enumerate(columns):
        if i == 0:
            footer = "Total"
        elif column.key in TOTAL_KEYS:
            footer = column.text(analysis.totals[column.key])
        elif column.key == "output_shape":
            footer = shape_text(analysis.output_shape)
        else:
            footer = ""
        table.add_column(column.header, footer=footer, justify="right" if column.numeric else "left",
                         no_wrap=column.key not in ("note", "input_shape"), overflow="fold")
    for report in analysis.layers:
        cells = []
        for column in columns:
            text = column.text(column.value(report))
            style = "dim" if column.numeric and text in ("0", "-") else ""
            cells.append(Text(text, style=style))
        table.add_row(*cells)
    console.print(table)
    if quiet:
        return
    totals = analysis.totals
    console.print(
        f"[bold]params[/] {humanize(totals['params'])} ({totals['params']:,})   "
        f"[bold]MACs[/] {humanize(totals['macs'])} ({totals['macs']:,})   "
        f"[bold]FLOPs[/] {humanize(totals['flops'])}   "
        f"[bold]fvcore[/] {humanize(totals['fvcore_flops'])}   "
        f"[bold]FlopCounterMode[/] {humanize(totals['torch_flops'])}",
        highlight=False,
    )
