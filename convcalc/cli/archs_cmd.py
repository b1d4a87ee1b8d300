"""`convcalc archs` (the built-in architectures) and `convcalc export NAME` (one of them as YAML). No torch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from convcalc.cli.app import app
from convcalc.cli.common import (
    FormatOpt,
    OutputFormat,
    complete_arch,
    make_console,
    state,
    user_errors,
    write_output,
)

if TYPE_CHECKING:  # pragma: no cover
    from convcalc.archs import ArchInfo

_HEADERS = ("Name", "Description", "Input", "Params", "MACs")


def _summaries() -> list[dict[str, Any]]:
    from convcalc.analysis.core import analyze
    from convcalc.archs import list_archs, load_arch

    rows = []
    for info in list_archs():
        analysis = analyze(load_arch(info.name))
        rows.append(_row(info, analysis.totals, list(analysis.output_shape)))
    return rows


def _row(info: "ArchInfo", totals: Any, output_shape: list[int]) -> dict[str, Any]:
    data = info.to_dict()
    del data["path"]
    data["output_shape"] = output_shape
    for key in ("params", "buffers", "macs", "flops", "fvcore_flops", "torch_flops"):
        data[key] = totals[key]
    return data


def _shape(shape: list[int] | None) -> str:
    return "x".join(map(str, shape)) if shape else "-"


@app.command(name="archs")
def archs(fmt: FormatOpt = OutputFormat.table) -> None:
    """The built-in architectures, with input shape, parameters and MACs (use one with --arch NAME).

    Example: [bold]convcalc archs[/], then [bold]convcalc summary --arch resnet50 --set resolution=160[/]
    """
    from convcalc.render.columns import humanize

    with user_errors():
        rows = _summaries()
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    cells = [(r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else ""), r["description"],
              _shape(r["input_shape"]), r["params"], r["macs"]) for r in rows]
    if fmt is OutputFormat.csv:
        lines = [",".join(h.lower() for h in _HEADERS)]
        lines += [",".join(_csv(v) for v in (r["name"], r["description"], _shape(r["input_shape"]),
                                               r["params"], r["macs"])) for r in rows]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    human = [(n, d, i, humanize(p), humanize(m)) for n, d, i, p, m in cells]
    if fmt is OutputFormat.markdown:
        lines = ["| " + " | ".join(_HEADERS) + " |", "|---|---|---|---:|---:|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in human]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    if sys.stdout.isatty() or state.force_rich:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=None if state.quiet else "Built-in architectures (--arch NAME)",
                      title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
        for header in _HEADERS:
            numeric = header in ("Params", "MACs")
            table.add_column(header, justify="right" if numeric else "left", no_wrap=header != "Description",
                             min_width=24 if header == "Description" else None)
        for row, data in zip(human, rows):
            name = Text(data["name"])
            if data["aliases"]:  # on a line of its own, so the name column stays narrow
                name.append("\n= " + ", ".join(data["aliases"]), style="dim")
            table.add_row(name, *row[1:])
        make_console().print(table)
        return
    widths = [max(len(h), *(len(row[i]) for row in human)) for i, h in enumerate(_HEADERS)]
    right = (False, False, False, True, True)
    lines = ["  ".join(h.ljust(w) for h, w in zip(_HEADERS, widths)).rstrip()]
    for row in human:
        lines.append("  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)).rstrip())
    sys.stdout.write("\n".join(lines) + "\n")


def _csv(value: Any) -> str:
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def _absolute_modeline(text: str) -> str:
    """The shipped specs point at the schema by a repository-relative path; a user's copy lives
    elsewhere, so point the editor at the schema file installed with convcalc instead."""
    from pathlib import Path as _Path

    import convcalc.schema

    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("# yaml-language-server: $schema="):
        schema = _Path(convcalc.schema.__file__).with_name("convcalc-spec.schema.json").resolve()
        lines[0] = f"# yaml-language-server: $schema={schema.as_uri()}\n"
    return "".join(lines)


@app.command(name="export")
def export(
    name: Annotated[str, typer.Argument(help="A built-in architecture, e.g. resnet50 (see `convcalc archs`).",
                                        show_default=False, autocompletion=complete_arch)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.",
                                                   show_default=False)] = None,
) -> None:
    """Print a built-in architecture's YAML spec, comments included, to start your own from.

    Example: [bold]convcalc export mobilenet -o my_mobilenet.yaml[/]
    """
    from convcalc.archs import arch_source

    with user_errors():
        text = _absolute_modeline(arch_source(name))
    write_output(text, output)
    if output is not None and not state.quiet:
        sys.stderr.write(f"wrote {output}\n")
