"""The analytic commands: shape, params, flops, rf, summary, layers. No torch is imported here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from convcalc.cli.app import app
from convcalc.cli.common import (
    EXIT_MISMATCH,
    ArchOpt,
    FormatOpt,
    InputOpt,
    ModuleOpt,
    OutputFormat,
    SetOpt,
    SourcesArg,
    load_analysis,
    make_console,
    state,
    user_errors,
)

StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Exit with code 1 when an `expect:` in the spec does not hold.")
]
PlotOpt = Annotated[
    Optional[Path],
    typer.Option("--plot", help="Also draw params, MACs and receptive field per layer to FILE.png|svg|pdf "
                 "(needs matplotlib: pip install 'convcalc[plot]').", show_default=False, dir_okay=False),
]


def _version_callback(value: bool) -> None:
    if value:
        from convcalc import __version__

        typer.echo(f"convcalc {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", "-V", callback=_version_callback, is_eager=True, help="Show the version and exit."),
    ] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output without colours (NO_COLOR works too).")]
    = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the results, no titles or notes.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for errors.", hidden=True)] = False,
) -> None:
    """convcalc: what shape comes out of this layer, how many parameters and FLOPs, what does this pixel see.

    Every number is computed analytically and can be proven by running PyTorch (`convcalc validate`).
    """
    state.no_color = no_color
    state.quiet = quiet
    state.debug = debug


def _run(kind: str, sources: list[str] | None, arch: str | None, input_text: str | None,
         sets: list[str] | None, fmt: OutputFormat, strict: bool, plot: Path | None = None,
         module: str | None = None) -> None:
    from convcalc.render.columns import COLUMN_SETS
    from convcalc.render.text import render_csv, render_json, render_markdown

    with user_errors():
        analysis = load_analysis(sources, arch, input_text, sets, module)
    columns = COLUMN_SETS[kind]
    if fmt is OutputFormat.json:
        sys.stdout.write(render_json(analysis) + "\n")
    elif fmt is OutputFormat.csv:
        sys.stdout.write(render_csv(analysis, columns))
    elif fmt is OutputFormat.markdown:
        sys.stdout.write(render_markdown(analysis, columns))
    elif sys.stdout.isatty() or state.force_rich:
        from convcalc.render.table import render_table

        render_table(analysis, columns, make_console(), quiet=state.quiet, bars=kind == "summary")
    else:
        from convcalc.render.text import render_plain

        sys.stdout.write(render_plain(analysis, columns, quiet=state.quiet))
    if plot is not None:
        from convcalc.render.plot import write_figure

        with user_errors():
            write_figure(analysis, plot)
        if not state.quiet:
            sys.stderr.write(f"wrote {plot}\n")
    if analysis.expectations_skipped and not state.quiet:
        sys.stderr.write(f"note: the spec's {analysis.expectations_skipped} expectation(s) hold for its own input "
                         f"{list(analysis.spec.input_shape or [])}: not checked at {list(analysis.input_shape)}\n")
    failed = analysis.failed_expectations
    if failed:
        err = make_console(stderr=True)
        err.print(f"[bold red]{len(failed)} expectation(s) failed:[/]")
        for result in failed:
            where = f"{result.location}: " if result.location else ""
            who = f"layer '{result.layer}'" if result.layer else "network"
            err.print(f"  {where}{who} {result.key}: expected {result.expected}, got {result.actual}",
                      highlight=False, markup=False)
        if strict:
            raise typer.Exit(EXIT_MISMATCH)


_EXAMPLES = {
    "shape": 'convcalc shape "Conv2d(3, 64, 7, stride=2, padding=3)" "MaxPool2d(3, 2, padding=1)" --input 1x3x224x224',
    "params": "convcalc params --arch mobilenet",
    "flops": "convcalc flops specs/examples/small_net.yaml --format json",
    "rf": "convcalc rf --arch vgg16",
    "summary": "convcalc summary --arch resnet50",
}


def _command(kind: str, help_text: str) -> None:
    def command(
        sources: SourcesArg = None,
        arch: ArchOpt = None,
        input_text: InputOpt = None,
        sets: SetOpt = None,
        fmt: FormatOpt = OutputFormat.table,
        strict: StrictOpt = False,
        plot: PlotOpt = None,
        module: ModuleOpt = None,
    ) -> None:
        _run(kind, sources, arch, input_text, sets, fmt, strict, plot, module)

    command.__doc__ = f"{help_text}\n\nExample: [bold]{_EXAMPLES[kind]}[/]"
    app.command(name=kind, help=command.__doc__)(command)


_command("shape", "Output shape of every layer (and which input sizes give the same output).")
_command("params", "Learnable parameters and buffers per layer, with totals.")
_command("flops", "MACs and FLOPs per layer: convcalc's count, fvcore's and torch FlopCounterMode's conventions.")
_command("rf", "Receptive field per layer: size, jump (effective stride) and start, per spatial dim.")
_command("summary", "Everything per layer: shape, params, MACs, FLOPs and receptive field (like torchinfo).")


@app.command(name="layers")
def list_layers(
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """The layer types a spec may use, with their arguments.

    Example: [bold]convcalc layers[/]
    """
    import json

    from convcalc.layers.base import COMPOSITES, all_layer_types

    types = all_layer_types()
    composites = sorted(set(COMPOSITES.values()), key=lambda c: c.type_name)
    rows = [(cls.type_name, cls.family, ", ".join(a.name for a in cls.args)) for cls in types]
    rows += [(cls.type_name, cls.family, ", ".join(a.name for a in cls.args)) for cls in composites]
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps([{"type": t, "family": f, "args": a.split(", ") if a else []}
                                     for t, f, a in rows], indent=2) + "\n")
        return
    if fmt in (OutputFormat.csv, OutputFormat.markdown):
        sep = "," if fmt is OutputFormat.csv else " | "
        lines = [sep.join(("type", "family", "args"))]
        if fmt is OutputFormat.markdown:
            lines = ["| type | family | args |", "|---|---|---|"]
            lines += [f"| {t} | {f} | {a} |" for t, f, a in rows]
        else:
            lines += [f'{t},{f},"{a}"' for t, f, a in rows]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    if not (sys.stdout.isatty() or state.force_rich):
        width = max(len(t) for t, _, _ in rows)
        fam = max(len(f) for _, f, _ in rows)
        sys.stdout.write("".join(f"{t:<{width}}  {f:<{fam}}  {a}\n" for t, f, a in rows))
        return
    from rich.table import Table

    table = Table(title="Layer types", title_justify="left", header_style="bold")
    table.add_column("Type")
    table.add_column("Family")
    table.add_column("Arguments", overflow="fold")
    for t, f, a in rows:
        table.add_row(t, f, a)
    make_console().print(table)
