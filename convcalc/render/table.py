"""The rich table for terminals (the only renderer that imports rich)."""

from __future__ import annotations

from typing import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from convcalc.analysis.core import TOTAL_KEYS, Analysis
from convcalc.render.columns import Column, humanize, shape_text


def render_table(analysis: Analysis, columns: Sequence[Column], console: Console, quiet: bool = False,
                 bars: bool = False) -> None:
    """`bars`: a bar beside params, MACs and RF size for each layer, when the terminal is wide enough."""
    bar_width = 0
    unbounded = console.options.update_width(1_000_000)  # the table's own width, not the terminal's
    natural = console.measure(_table(analysis, columns, quiet, 0), options=unbounded).maximum
    if bars:
        from convcalc.render.plot import BAR_SERIES, bar_width_for

        bar_width = bar_width_for(console.width - natural, sum(c.key in BAR_SERIES for c in columns))
    # Too wide for the terminal: a compact layout where names wrap and numbers stay whole (left to
    # itself, rich would shrink every column alike and cut the numbers to a digit or two).
    fit = console.width if natural > console.width else None
    console.print(_table(analysis, columns, quiet, bar_width, fit=fit))
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


def _footer(analysis: Analysis, column: Column, first: bool) -> str:
    if first:
        return "Total"
    if column.key in TOTAL_KEYS:
        return column.text(analysis.totals[column.key])
    if column.key == "output_shape":
        return shape_text(analysis.output_shape)
    return ""


def _table(analysis: Analysis, columns: Sequence[Column], quiet: bool, bar_width: int,
           fit: int | None = None) -> Table:
    """The table; with `fit`, compact (no vertical rules) and `fit` cells wide, names wrapped to fit."""
    title = None if quiet else f"{analysis.name} — input {shape_text(analysis.input_shape)}"
    compact = {"box": box.SIMPLE_HEAD, "pad_edge": False, "show_edge": False} if fit else {}
    table = Table(title=title, title_justify="left", show_footer=True, header_style="bold",
                  footer_style="bold", **compact)
    texts = [[column.text(column.value(report)) for column in columns] for report in analysis.layers]
    footers = [_footer(analysis, column, i == 0) for i, column in enumerate(columns)]
    widths = [max([len(c.header), len(footers[i]), *(len(row[i]) for row in texts)])
              for i, c in enumerate(columns)]
    keep = [c.numeric or c.key == "output_shape" for c in columns]  # numbers and shapes are never cut
    if fit:
        flexible = [i for i in range(len(columns)) if not keep[i]]
        room = fit - (3 * len(columns) - 3) - sum(w for w, k in zip(widths, keep) if k)  # 3: padding, rule
        wanted = sum(widths[i] for i in flexible)
        if flexible and room < wanted:
            for i in flexible:
                widths[i] = max(4, room * widths[i] // wanted)
    series: dict[str, list[float]] = {}
    if bar_width:
        from convcalc.render.plot import BAR_HEADERS, BAR_SERIES, BAR_STYLES, bar

        series = {c.key: BAR_SERIES[c.key](analysis) for c in columns if c.key in BAR_SERIES}
    for i, column in enumerate(columns):
        table.add_column(column.header, footer=footers[i], justify="right" if column.numeric else "left",
                         no_wrap=keep[i], overflow="fold", width=widths[i] if (keep[i] or fit) else None)
        if column.key in series:
            table.add_column(BAR_HEADERS[column.key], no_wrap=True, width=bar_width, header_style="dim")
    for index in range(len(analysis.layers)):
        cells = []
        for column, text in zip(columns, texts[index]):
            style = "dim" if column.numeric and text in ("0", "-") else ""
            cells.append(Text(text, style=style))
            if column.key in series:
                cells.append(Text(bar(series[column.key][index], bar_width), style=BAR_STYLES[column.key]))
        table.add_row(*cells)
    return table
