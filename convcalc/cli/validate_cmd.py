"""`convcalc validate` (one spec run in PyTorch, every number compared) and `convcalc check` (many specs, CI).

Nothing here imports torch at import time: the commands import convcalc.torch_backend when they run.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convcalc.cli.app import app
from convcalc.cli.common import (
    complete_spec,
    EXIT_INVALID,
    EXIT_MISMATCH,
    ArchOpt,
    InputOpt,
    SetOpt,
    SourcesArg,
    fail,
    make_console,
    state,
    user_errors,
)
from convcalc.errors import ConvcalcError

if TYPE_CHECKING:  # pragma: no cover
    from convcalc.torch_backend.validation import Check, ValidationReport

# Listing every check of a big network drowns the few that matter; past this many only the problems
# and the network totals are listed (--all lists everything).
FULL_LISTING_LIMIT = 120


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


class RfLayers(str, Enum):
    changed = "changed"
    last = "last"
    all = "all"


DeviceOpt = Annotated[str, typer.Option(
    "--device", "-d", help="cpu, cuda, cuda:N, mps, meta (shapes and torch FLOPs only, no memory) or auto "
    "(CUDA when available, else CPU).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float32, float16, bfloat16 or float64.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for the weights and the random input.")]
RfOpt = Annotated[bool, typer.Option("--rf", help="Also measure receptive fields by back-propagation "
                                     "(slower).")]
RfLayersOpt = Annotated[RfLayers, typer.Option(
    "--rf-layers", help="With --rf: 'changed' probes the layers that change the field, 'last' only the "
    "deepest local one, 'all' every layer.", case_sensitive=False)]
FlopsOpt = Annotated[bool, typer.Option("--flops/--no-flops", help="Compare torch and fvcore FLOP counts.")]
FvcoreOpt = Annotated[bool, typer.Option("--fvcore/--no-fvcore", help="Include fvcore's FlopCountAnalysis "
                                         "(a second, traced pass).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Run even when the memory estimate exceeds what is "
                                        "free.")]
ReportFormatOpt = Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.",
                                                       case_sensitive=False)]


def _rich_output() -> bool:
    return sys.stdout.isatty() or state.force_rich


# --------------------------------------------------------------------------------------------------
# convcalc validate
# --------------------------------------------------------------------------------------------------


@app.command(name="validate")
def validate_command(
    sources: SourcesArg = None,
    arch: ArchOpt = None,
    input_text: InputOpt = None,
    sets: SetOpt = None,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    seed: SeedOpt = 0,
    rf: RfOpt = False,
    rf_layers: RfLayersOpt = RfLayers.changed,
    flops: FlopsOpt = True,
    fvcore: FvcoreOpt = True,
    force: ForceOpt = False,
    show_all: Annotated[bool, typer.Option("--all", help="List every check, not only the problems.")] = False,
    fmt: ReportFormatOpt = ReportFormat.table,
    against: Annotated[str | None, typer.Option(
        "--against", help="The PyTorch code the spec must equal (package.module:callable(kw=value) or "
        "path/to/file.py:callable; default: the spec's `against:`): its weights are loaded into the spec "
        "and the outputs compared, layer by layer.", show_default=False)] = None,
) -> None:
    """Build the network in PyTorch, run it, and compare every analytic number with what PyTorch measures.

    Per layer: output shape (hooks), params and buffers (numel), torch FLOPs (FlopCounterMode), fvcore FLOPs.

    With --rf also receptive fields (by gradients); always the spec's [bold]expect:[/] values.

    With --against (or the spec's [bold]against:[/]) also the model it describes: state_dict keys and
    shapes, every same-named layer's output, and the final output.

    Exit 0 when all agree, 1 on any mismatch or failed expectation, 2 on bad input.

    Example: [bold]convcalc validate --arch resnet18 --rf[/]
    """
    from convcalc.cli.common import load_analysis
    from convcalc.torch_backend.devices import canonical_dtype, check_device_name

    with user_errors():
        check_device_name(device)
        canonical_dtype(dtype)
        tick = time.perf_counter()
        analysis = load_analysis(sources, arch, input_text, sets)
        analysed = time.perf_counter() - tick
        from convcalc.torch_backend.validation import validate

        report = validate(analysis, device=device, dtype=dtype, seed=seed, rf=rf, flops=flops, fvcore=fvcore,
                          force=force, rf_layers=rf_layers.value, against=against)
    report.timings = {"analysis": analysed, **report.timings}
    report.time_s += analysed
    if fmt is ReportFormat.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif _rich_output():
        _print_rich_report(report, show_all)
    else:
        sys.stdout.write(render_plain_report(report, show_all))
    if not report.ok:
        raise typer.Exit(EXIT_MISMATCH)


def _value_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value_text(v) if not isinstance(v, int) else str(v) for v in value) + "]"
    return str(value)


_RESULT_TEXT = {"ok": "OK", "mismatch": "MISMATCH", "known": "KNOWN", "skipped": "SKIPPED",
                "failed": "FAILED", "error": "ERROR"}
_RESULT_STYLE = {"ok": "green", "mismatch": "bold red", "known": "yellow", "skipped": "dim",
                 "failed": "bold red", "error": "bold red"}


def _rows(report: ValidationReport, show_all: bool) -> tuple[list[Check], int]:
    """The checks to list, and how many OK checks were left out."""
    if show_all or len(report.checks) <= FULL_LISTING_LIMIT:
        return list(report.checks), 0
    shown = [c for c in report.checks if c.status != "ok" or c.layer is None or c.check.startswith("expect.")]
    return shown, len(report.checks) - len(shown)


def _cells(check: Check) -> tuple[str, str, str, str, str, str]:
    measured = f"expected {_value_text(check.expected)}" if check.check.startswith("expect.") \
        else _value_text(check.measured)
    layer = check.layer if check.layer is not None else "(network)"
    note = check.note if check.status != "ok" and check.note else ""  # where an OK came from is in the JSON
    return layer, check.check, _value_text(check.analytic), measured, _RESULT_TEXT[check.status], note


def _header(report: ValidationReport) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in report.versions.items() if v)
    return (f"{report.name}: input {_value_text(report.input_shape)} -> {_value_text(report.output_shape)} "
            f"on {report.device}, {report.dtype}, seed {report.seed} ({versions})")


def _footer(report: ValidationReport) -> str:
    from convcalc.torch_backend.validation import describe_memory

    parts = [f"{k} {v:.2f} s" for k, v in report.timings.items()]
    memory = describe_memory(report.memory)
    return f"{report.device} · {report.dtype} · {report.time_s:.2f} s ({', '.join(parts)})" + (
        f" · {memory}" if memory else "")


def _print_rich_report(report: ValidationReport, show_all: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    console = make_console()
    rows, hidden = _rows(report, show_all)
    if not state.quiet:
        console.print(Text(_header(report), style="bold"))
    table = Table(header_style="bold", show_lines=False)
    # Checks, values and results stay on one line each; a long layer name folds. Notes (why a check
    # was skipped or differs) follow the table as numbered footnotes, which keeps it narrow.
    longest = max((len(c.layer or "(network)") for c in rows), default=9)
    table.add_column("Layer", overflow="fold", min_width=min(20, longest))
    table.add_column("Check", no_wrap=True)
    table.add_column("Analytic", justify="right", overflow="fold")
    table.add_column("Measured", justify="right", overflow="fold")
    table.add_column("Result", no_wrap=True)
    notes: list[str] = []
    for check in rows:
        layer, what, analytic, measured, result, note = _cells(check)
        what = what.replace("receptive_field.", "rf ").replace("expect.", "expect ")
        if note:
            notes.append(note)
            result += f" [{len(notes)}]"
        table.add_row(layer, what, analytic, measured, Text(result, style=_RESULT_STYLE[check.status]))
    console.print(table)
    for number, note in enumerate(notes, 1):
        console.print(Text(f"[{number}] {note}", style="dim"), soft_wrap=True)
    if hidden:
        console.print(Text(f"{hidden} more checks agree (--all lists them)", style="dim"))
    console.print(Text(report.verdict(), style="bold green" if report.ok else "bold red"), soft_wrap=True)
    if report.failures:
        console.print(Text("Differences:", style="bold"))
        for line in report.diff():
            console.print(Text("  " + line), soft_wrap=True)
    if not state.quiet:
        console.print(Text(_footer(report), style="dim"), soft_wrap=True)


def render_plain_report(report: ValidationReport, show_all: bool) -> str:
    """The report for pipes and files: aligned columns, no colour or box drawing."""
    rows, hidden = _rows(report, show_all)
    table = [("LAYER", "CHECK", "ANALYTIC", "MEASURED", "RESULT", "NOTE")] + [_cells(c) for c in rows]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    lines = [] if state.quiet else [_header(report)]
    for row in table:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]),
                 row[3].rjust(widths[3]), row[4].ljust(widths[4]), row[5]]
        lines.append("  ".join(cells).rstrip())
    if hidden:
        lines.append(f"{hidden} more checks agree (--all lists them)")
    lines.append(report.verdict())
    if report.failures:
        lines.append("Differences:")
        lines.extend("  " + line for line in report.diff())
    if not state.quiet:
        lines.append(_footer(report))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# convcalc check
# --------------------------------------------------------------------------------------------------


@dataclass
class SpecResult:
    path: str
    status: str  # passed, failed, error
    name: str | None = None
    time_s: float = 0.0
    verdict: str = ""
    diff: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "name": self.name, "status": self.status,
                                "time_s": round(self.time_s, 4), "verdict": self.verdict,
                                "counts": self.counts, "diff": self.diff}
        if self.error:
            data["error"] = self.error
            data["error_type"] = self.error_type
        return data


def collect_specs(paths: Sequence[str]) -> list[Path]:
    """Spec files named directly, and every *.yaml / *.yml under the folders named, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise typer.BadParameter(f"no such file or folder: {raw}", param_hint="PATHS")
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def check_one(path: Path, **options: Any) -> SpecResult:
    from convcalc.torch_backend.validation import validate

    tick = time.perf_counter()
    try:
        report = validate(str(path), **options)
    except Exception as exc:
        if state.debug:
            raise
        message = str(exc) if isinstance(exc, ConvcalcError) else \
            f"internal error: {type(exc).__name__}: {exc}"
        return SpecResult(str(path), "error", time_s=time.perf_counter() - tick,
                          verdict="ERROR: " + message.splitlines()[0], error=message,
                          error_type=type(exc).__name__)
    return SpecResult(str(path), "passed" if report.ok else "failed", name=report.name,
                      time_s=time.perf_counter() - tick, verdict=_short_verdict(report.counts),
                      diff=report.diff(), counts=report.counts)


def _short_verdict(counts: dict[str, int]) -> str:
    """A summary row's verdict: what went wrong, or that all agree (and what was left out)."""
    words = {"mismatch": ("mismatch", "mismatches"), "failed": ("failed expectation", "failed expectations"),
             "error": ("layer PyTorch could not run", "layers PyTorch could not run"),
             "known": ("known difference", "known differences"), "skipped": ("skipped", "skipped")}
    problems = [f"{counts[k]} {words[k][counts[k] != 1]}" for k in ("mismatch", "failed", "error")
                if counts.get(k)]
    extras = [f"{counts[k]} {words[k][counts[k] != 1]}" for k in ("known", "skipped") if counts.get(k)]
    head = ", ".join(problems) if problems else "all agree"
    return head + (f" ({', '.join(extras)})" if extras else "")


@app.command(name="check")
def check_command(
    paths: Annotated[list[str] | None, typer.Argument(
        help="Spec files and folders (searched recursively for *.yaml); default: specs/.",
        show_default=False, autocompletion=complete_spec)] = None,
    device: Annotated[str | None, typer.Option(
        "--device", "-d", help="Where to run: meta (default: shapes, params and torch FLOPs, no memory), "
        "cpu, cuda, cuda:N, mps or auto.", show_default=False)] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="A full run: --device auto (unless given), fvcore FLOPs and receptive fields.")] \
        = False,
    dtype: DtypeOpt = "float32",
    seed: SeedOpt = 0,
    rf: RfOpt = False,
    fvcore: Annotated[bool | None, typer.Option(
        "--fvcore/--no-fvcore", help="fvcore's FlopCountAnalysis (default: with --full or a real device).",
        show_default=False)] = None,
    force: ForceOpt = False,
    fmt: ReportFormatOpt = ReportFormat.table,
    junit_xml: Annotated[Path | None, typer.Option(
        "--junit-xml", help="Also write a JUnit XML report (for CI) to this file.",
        show_default=False)] = None,
) -> None:
    """Validate many specs (for CI): a summary table, JSON or JUnit XML; exit 1 if any spec fails.

    Fast by default: the analysis plus a run on the meta device (shapes, params, torch FLOPs).

    --full runs on the GPU when there is one (else the CPU), with fvcore and receptive-field checks.

    Example: [bold]convcalc check specs/ --junit-xml report.xml[/]
    """
    from convcalc.torch_backend.devices import canonical_dtype, check_device_name

    with user_errors():
        device_name = check_device_name(device or ("auto" if full else "meta"))
        canonical_dtype(dtype)
    try:
        specs = collect_specs(paths or ["specs"])
    except typer.BadParameter as exc:
        raise fail(str(exc.message), EXIT_INVALID) from None
    if not specs:
        raise fail(f"no spec files (*.yaml, *.yml) found in {', '.join(paths or ['specs'])}", EXIT_INVALID)
    with_fvcore = fvcore if fvcore is not None else (full or device_name != "meta")
    options = {"device": device_name, "dtype": dtype, "seed": seed, "rf": rf or full, "fvcore": with_fvcore,
               "force": force}
    started = time.perf_counter()
    results = _run_all(specs, options, show_progress=fmt is ReportFormat.table and sys.stderr.isatty())
    elapsed = time.perf_counter() - started
    if junit_xml is not None:
        write_junit_xml(results, junit_xml, elapsed)
    if fmt is ReportFormat.json:
        summary = {"ok": all(r.status == "passed" for r in results), "device": device_name,
                   "dtype": canonical_dtype(dtype),
                   "time_s": round(elapsed, 4), "counts": _summary_counts(results),
                   "specs": [r.to_dict() for r in results]}
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        _print_check_summary(results, device_name, dtype, elapsed)
    if any(r.status != "passed" for r in results):
        raise typer.Exit(EXIT_MISMATCH)


def _run_all(specs: list[Path], options: dict[str, Any], show_progress: bool) -> list[SpecResult]:
    if not show_progress:
        return [check_one(path, **options) for path in specs]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    results = []
    with Progress(TextColumn("[bold]checking[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=make_console(stderr=True), transient=True) as progress:
        task = progress.add_task("", total=len(specs))
        for path in specs:
            progress.update(task, description=str(path))
            results.append(check_one(path, **options))
            progress.advance(task)
    return results


def _summary_counts(results: Sequence[SpecResult]) -> dict[str, int]:
    return {status: sum(1 for r in results if r.status == status) for status in ("passed", "failed", "error")}


def _check_verdict(results: Sequence[SpecResult]) -> str:
    counts = _summary_counts(results)
    word = "spec" if len(results) == 1 else "specs"
    if counts["passed"] == len(results):
        return f"OK: all {len(results)} {word} agree with PyTorch"
    bad = [f"{counts['failed']} failed"] if counts["failed"] else []
    bad += [f"{counts['error']} could not be checked"] if counts["error"] else []
    return f"FAILED: {', '.join(bad)} of {len(results)} {word} ({counts['passed']} passed)"


def _print_check_summary(results: Sequence[SpecResult], device: str, dtype: str, elapsed: float) -> None:
    rich = _rich_output()
    rows = [(r.path, r.status.upper(), str(sum(r.counts.values())) if r.counts else "-", r.verdict,
             f"{r.time_s:.2f} s") for r in results]
    styles = {"PASSED": "green", "FAILED": "bold red", "ERROR": "bold red"}
    details = [(r.path, r.diff or ([r.error] if r.error else [])) for r in results if r.status != "passed"]
    footer = f"{device} · {dtype} · {elapsed:.2f} s"
    if rich:
        from rich.table import Table
        from rich.text import Text

        console = make_console()
        table = Table(header_style="bold")
        for name, justify in (("Spec", "left"), ("Result", "left"), ("Checks", "right"), ("Verdict", "left"),
                              ("Time", "right")):
            table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for path, status, checks, verdict, took in rows:
            table.add_row(path, Text(status, style=styles[status]), checks, verdict, took)
        console.print(table)
        ok = all(r.status == "passed" for r in results)
        console.print(Text(_check_verdict(results), style="bold green" if ok else "bold red"))
        for path, lines in details:
            console.print(Text(f"{path}:", style="bold"))
            for line in lines:
                console.print(Text("  " + line))
        if not state.quiet:
            console.print(Text(footer, style="dim"))
        return
    table_rows = [("SPEC", "RESULT", "CHECKS", "VERDICT", "TIME")] + rows
    widths = [max(len(r[i]) for r in table_rows) for i in range(5)]
    out = []
    for path, status, checks, verdict, took in table_rows:
        out.append("  ".join([path.ljust(widths[0]), status.ljust(widths[1]), checks.rjust(widths[2]),
                              verdict.ljust(widths[3]), took.rjust(widths[4])]).rstrip())
    out.append(_check_verdict(results))
    for path, lines in details:
        out.append(f"{path}:")
        out.extend("  " + line for line in lines)
    if not state.quiet:
        out.append(footer)
    sys.stdout.write("\n".join(out) + "\n")


def write_junit_xml(results: Sequence[SpecResult], target: Path, elapsed: float) -> None:
    """One <testcase> per spec; a failed spec carries a <failure> with its diff, an invalid one an <error>."""
    import datetime
    import xml.etree.ElementTree as ET

    counts = _summary_counts(results)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    suites = ET.Element("testsuites", name="convcalc check", tests=str(len(results)),
                        failures=str(counts["failed"]), errors=str(counts["error"]), time=f"{elapsed:.3f}")
    suite = ET.SubElement(suites, "testsuite", name="convcalc check", tests=str(len(results)),
                          failures=str(counts["failed"]), errors=str(counts["error"]), skipped="0",
                          time=f"{elapsed:.3f}",
                          timestamp=now)
    for result in results:
        case = ET.SubElement(suite, "testcase", classname="convcalc.check", name=result.path,
                             time=f"{result.time_s:.3f}")
        if result.status == "failed":
            node = ET.SubElement(case, "failure", message=result.verdict, type="mismatch")
            node.text = "\n".join(result.diff)
        elif result.status == "error":
            node = ET.SubElement(case, "error", message=(result.error or "").splitlines()[0],
                                 type=result.error_type or "error")
            node.text = result.error or ""
    tree = ET.ElementTree(suites)
    ET.indent(tree)
    target.parent.mkdir(parents=True, exist_ok=True)
    tree.write(target, encoding="utf-8", xml_declaration=True)
