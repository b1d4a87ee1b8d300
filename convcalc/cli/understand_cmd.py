"""The understanding commands: transpose, explain, compare.

They print plain aligned text (it reads the same in a terminal, a pipe and a README) or JSON. Only the
views that run PyTorch (explain --matrix/--values/--shift, compare --kernel) import torch, lazily.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import typer

from convcalc.cli.app import app
from convcalc.cli.common import (
    ArchOpt,
    InputOpt,
    SetOpt,
    SourcesArg,
    complete_arch,
    parse_shape,
    resolve_spec,
    user_errors,
)
from convcalc.errors import LayerError, SpecError

if TYPE_CHECKING:  # pragma: no cover
    from convcalc.analysis.core import Analysis, LayerReport
    from convcalc.spec.expand import Spec


class TextFormat(str, Enum):
    table = "table"
    json = "json"


FormatOpt = Annotated[TextFormat, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)]
LayerOpt = Annotated[
    Optional[str],
    typer.Option("--layer", "-l", help="The layer of the spec to use (default: the last one).", show_default=False),
]


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """LayerErrors from the understanding tools become clean messages (exit 2) like spec errors."""
    with user_errors():
        try:
            yield
        except LayerError as exc:
            raise SpecError(exc.message, hint=exc.hint) from None


def _write(lines: list[str]) -> None:
    sys.stdout.write("\n".join(lines).rstrip("\n") + "\n")


def _write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    from fractions import Fraction

    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --------------------------------------------------------------------------------------------------
# picking the layer
# --------------------------------------------------------------------------------------------------


def _as_spec(resolved: Any) -> "Spec":
    from convcalc.spec.expand import Spec, load_spec

    return resolved if isinstance(resolved, Spec) else load_spec(resolved)


def _pop_output_size(spec: "Spec", layer_name: str | None) -> tuple["Spec", Any]:
    """Take `output_size` off the chosen ConvTranspose so that an unreachable one can be explained."""
    entries = list(spec.layers)
    index = next((i for i, e in enumerate(entries) if e.name == layer_name), None) if layer_name else len(entries) - 1
    if index is None or "output_size" not in entries[index].args:
        return spec, None
    entry = entries[index]
    target = entry.args["output_size"]
    entries[index] = dataclasses.replace(entry, args={k: v for k, v in entry.args.items() if k != "output_size"})
    return dataclasses.replace(spec, layers=tuple(entries)), target


def _truncate(spec: "Spec", layer_name: str | None) -> "Spec":
    """The spec up to the chosen layer: what comes after it cannot matter, and may not even be valid yet."""
    if layer_name is None:
        return spec
    names = [e.name for e in spec.layers]
    target = layer_name
    aliases = dict(spec.aliases)
    while target in aliases and target not in names:
        target = aliases[target]
    if target not in names:
        return spec
    keep = spec.layers[: names.index(target) + 1]
    return dataclasses.replace(spec, layers=keep, expect=None, expect_location=None)


def _pick(analysis: "Analysis", name: str | None) -> "LayerReport":
    import difflib

    if name is None:
        return analysis.layers[-1]
    resolved = name
    aliases = dict(analysis.spec.aliases)
    while resolved in aliases:
        resolved = aliases[resolved]
    for report in analysis.layers:
        if report.name == resolved:
            return report
    names = [r.name for r in analysis.layers]
    close = difflib.get_close_matches(name, names, n=3)
    listed = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
    raise SpecError(f"no layer named '{name}' in {analysis.name}",
                    hint=(f"did you mean {' or '.join(close)}? " if close else "") + f"layers: {listed}")


def _load(sources: list[str] | None, arch: str | None, input_text: str | None, sets: list[str] | None,
          layer_name: str | None, pop_output_size: bool = False) -> tuple["Analysis", "LayerReport", Any]:
    from convcalc.analysis.core import analyze

    spec = _truncate(_as_spec(resolve_spec(sources, arch, input_text, sets)), layer_name)
    popped = None
    if pop_output_size:
        spec, popped = _pop_output_size(spec, layer_name)
    analysis = analyze(spec, input_shape=parse_shape(input_text) if input_text else None)
    report = _pick(analysis, layer_name)
    if isinstance(popped, str):
        popped = _shape_of(analysis, popped)
    return analysis, report, popped


def _shape_of(analysis: "Analysis", name: str) -> tuple[int, ...]:
    from convcalc.spec.expand import NET_INPUT

    if name == NET_INPUT:
        return tuple(analysis.input_shape)
    return tuple(_pick(analysis, name).output_shape)


def _parse_ints(text: str, what: str) -> tuple[int, ...] | None:
    """'112', '112x113', '[1, 32, 112, 112]' -> ints; None when the text is not made of numbers."""
    import re

    parts = [p for p in re.split(r"[x×,\s]+", text.strip().strip("[]()")) if p]
    if not parts:
        raise SpecError(f"{what} is empty")
    if not all(re.fullmatch(r"-?\d+", p) for p in parts):
        return None
    return tuple(int(p) for p in parts)


# --------------------------------------------------------------------------------------------------
# convcalc transpose
# --------------------------------------------------------------------------------------------------


@app.command(name="transpose")
def transpose_command(
    sources: SourcesArg = None,
    arch: ArchOpt = None,
    input_text: InputOpt = None,
    sets: SetOpt = None,
    layer_name: LayerOpt = None,
    target: Annotated[Optional[str], typer.Option(
        "--target", "-t", show_default=False,
        help="Solve output_padding of a ConvTranspose for this output size: spatial sizes (112 or 112x113), a full "
             "shape, or a layer name of the spec (a skip connection).")] = None,
    fmt: FormatOpt = TextFormat.table,
) -> None:
    """The output_padding ambiguity of transposed convolutions, solved (per spatial dim, 1D to 3D).

    For a Conv/pooling layer: every input size that gives the same output, and the ConvTranspose (with its
    output_padding) that maps the output back to each. For a ConvTranspose and --target (or output_size=):
    the output_padding that reaches it, or the reachable sizes and the nearest changes that would.

    Example: [bold]convcalc transpose "Conv2d(3, 16, 3, stride=2, padding=1)" --input 1x3x7x8[/]
    Example: [bold]convcalc transpose "ConvTranspose2d(16, 3, 3, stride=2, padding=1)" --input 1x16x4x4 -t 8x9[/]
    """
    from convcalc.understand import transpose as tr

    with _errors():
        analysis, report, popped = _load(sources, arch, input_text, sets, layer_name, pop_output_size=True)
        layer = report.layer
        wanted: Any = None
        if target is not None:
            wanted = _parse_ints(target, "--target")
            if wanted is None:
                wanted = _shape_of(analysis, target)
        elif popped is not None:
            wanted = popped
        if tr.is_transposed(layer):
            if wanted is None:
                _transpose_choices(layer, fmt)
                return
            answer = tr.solve(layer, wanted)
            if fmt is TextFormat.json:
                _write_json(answer.to_dict())
            else:
                _write(_solve_lines(answer))
            return
        if wanted is not None:
            raise SpecError(f"--target solves a ConvTranspose's output_padding; '{report.name}' is a {report.type}",
                            hint="leave --target out to see the input sizes this layer cannot tell apart and the "
                                 "ConvTranspose back to each")
        if not tr.is_window(layer):
            raise SpecError(f"'{report.name}' is a {report.type}; transpose works on convolution and pooling layers",
                            hint="pick one with --layer NAME")
        inverse = tr.invert(layer)
        if fmt is TextFormat.json:
            _write_json(inverse.to_dict())
        else:
            _write(_inverse_lines(inverse))


def _transpose_choices(layer: Any, fmt: TextFormat) -> None:
    from convcalc.understand import transpose as tr
    from convcalc.understand.layerexpr import axis_names, layer_expression
    from convcalc.understand.textout import text_table

    free, dims = tr.choices(layer)
    names = axis_names(layer.ndim or 0)
    if fmt is TextFormat.json:
        _write_json({"layer": layer_expression(free), "input_shape": list(free.in_shape), "dims": dims})
        return
    rows = [[names[d["axis"]], d["input"], ", ".join(f"{o['output_padding']} -> {o['size']}" for o in d["options"])]
            for d in dims]
    lines = [f"{layer_expression(free)}: input {list(free.in_shape)}", ""]
    lines += text_table(["dim", "input", "output_padding -> output size"], rows, right=(1,))
    lines += ["", "every one of these is a valid output; give --target SIZE (or output_size=...) to pick one"]
    _write(lines)


def _solve_lines(answer: Any) -> list[str]:
    from convcalc.understand import transpose as tr
    from convcalc.understand.layerexpr import axis_names, layer_expression
    from convcalc.understand.textout import text_table

    layer = answer.layer
    names = axis_names(layer.ndim or 0)
    lines = [f"{layer_expression(layer)}: input {list(layer.in_shape)}, target {' x '.join(map(str, answer.target))}",
             ""]
    rows = []
    for a in answer.axes:
        options = ", ".join(f"{op} -> {s}" for op, s in a.options)
        rows.append([names[a.axis], a.in_size, a.target, options,
                     f"output_padding {a.output_padding}" if a.ok else "unreachable"])
    lines += text_table(["dim", "input", "target", "output_padding -> size", "answer"], rows, right=(1, 2))
    lines.append("")
    if answer.ok:
        lines.append(f"solved: {answer.expression} -> {list(answer.solved.out_shape)}")
        target = list(answer.target)
        if answer.forward_ok:
            lines.append(f"same as calling the layer without output_padding as m(x, output_size={target})")
        else:
            lines.append(f"note: m(x, output_size={target}) would raise - forward() accepts only output_padding < "
                         "stride; set output_padding in the constructor as above")
    else:
        lines.append("no output_padding reaches the target:")
        lines += ["  " + line for line in tr.describe_failure(answer)]
    return lines


def _inverse_lines(inverse: Any) -> list[str]:
    from convcalc.understand import transpose as tr
    from convcalc.understand.layerexpr import axis_names, layer_expression
    from convcalc.understand.textout import text_table

    layer = inverse.layer
    names = axis_names(layer.ndim or 0)
    spatial = tr.spatial_of(layer)
    out_spatial = tr.spatial_of(layer, layer.out_shape)
    lines = [f"{layer_expression(layer)}: input {list(layer.in_shape)} -> output {list(layer.out_shape)}", ""]
    rows = [[names[i], n, o, ", ".join(map(str, c))] for i, (n, o, c) in
            enumerate(zip(spatial, out_spatial, inverse.classes))]
    lines += text_table(["dim", "input", "output", "inputs giving the same output"], rows, right=(1, 2))
    ambiguous = inverse.count > 1
    lines.append("")
    lines.append(f"back with {layer_expression(inverse.mirror)} and output_padding:" if ambiguous else
                 f"back with {layer_expression(inverse.mirror)} (no ambiguity: one input size per output size):")
    table = []
    shown = inverse.rows[:32]
    for row in shown:
        a = row.answer
        if a.ok:
            note = "" if a.forward_ok else "  (constructor only: forward(output_size=) rejects it)"
            table.append([" x ".join(map(str, row.input_spatial)), str(list(a.output_padding)), a.expression + note])
        else:
            table.append([" x ".join(map(str, row.input_spatial)), "unreachable", "see below"])
    lines += text_table(["input", "output_padding", "layer"], table)
    if len(inverse.rows) > len(shown):
        lines.append(f"... and {len(inverse.rows) - len(shown)} more combinations (--format json lists all)")
    if ambiguous and all(r.answer.forward_ok for r in inverse.rows if r.answer.ok):
        lines.append("")
        lines.append("or build it with output_padding=0 and call m(y, output_size=<the size you want>): PyTorch "
                     "picks the same output_padding")
    failures = [r for r in inverse.rows if not r.answer.ok]
    for r in failures[:4]:
        lines.append("")
        lines.append(f"to {' x '.join(map(str, r.input_spatial))}:")
        lines += ["  " + line for line in tr.describe_failure(r.answer)]
    return lines


# --------------------------------------------------------------------------------------------------
# convcalc explain
# --------------------------------------------------------------------------------------------------


@app.command(name="explain")
def explain_command(
    sources: SourcesArg = None,
    arch: ArchOpt = None,
    input_text: InputOpt = None,
    sets: SetOpt = None,
    layer_name: LayerOpt = None,
    matrix: Annotated[bool, typer.Option(
        "--matrix", help="Show the (small, 1D/2D) convolution as a matrix W and its transpose, checked in torch.")]
    = False,
    values: Annotated[Optional[str], typer.Option(
        "--values", help="An input matrix for one channel, e.g. \"[[1,0,3,5],[3,4,2,2],[1,3,3,9],[5,7,8,4]]\": show "
                         "the windows and the output values (sets --input for a single layer).",
        show_default=False)] = None,
    weights: Annotated[Optional[str], typer.Option(
        "--weights", show_default=False,
        help="The kernel for --matrix/--values, e.g. \"[[1,0,-1],[2,0,-2],[1,0,-1]]\" (default 1, 2, ...).")] = None,
    shift: Annotated[Optional[str], typer.Option(
        "--shift", help="Check translation equivariance in torch: shift the input by this many pixels (one per dim, "
                        "or one for all).", show_default=False)] = None,
    fmt: FormatOpt = TextFormat.table,
) -> None:
    """The arithmetic behind one layer, with your numbers: output size per dim, receptive field, params, MACs.

    Example: [bold]convcalc explain "Conv2d(3, 64, 7, stride=2, padding=3)" --input 1x3x224x224[/]
    Example: [bold]convcalc explain "Conv2d(1, 1, 3)" --input 1x1x4x4 --matrix[/]
    Example: [bold]convcalc explain "MaxPool2d(2, 2)" --values "[[1,0,3,5],[3,4,2,2],[1,3,3,9],[5,7,8,4]]"[/]
    """
    from convcalc.understand import explain as ex

    with _errors():
        flat_values, dims = ex.parse_matrix(values, "--values") if values is not None else (None, None)
        kernel, _ = ex.parse_matrix(weights, "--weights") if weights is not None else (None, None)
        if (flat_values is not None and input_text is None and sources and not arch
                and all(s.rstrip().endswith(")") for s in sources)):
            input_text = "x".join(map(str, (1, 1, *dims)))  # type: ignore[misc]
        analysis, report, _ = _load(sources, arch, input_text, sets, layer_name)
        sections = ex.explain(analysis, report)
        sections.append(ex.equivariance_section(analysis, report))
        if shift is not None:
            amounts = _parse_ints(shift, "--shift")
            if amounts is None:
                raise SpecError(f"--shift must be whole numbers like 1 or 2x0, got {shift!r}")
            check = ex.check_equivariance(analysis, report, amounts)
            sections[-1].lines += ex.describe_check(check)
            sections[-1].data = dict(sections[-1].data or {}, check={
                "shift": list(check.shift), "expected_output_shift": [float(e) for e in check.expected],
                "period": list(check.period), "holds": check.holds, "broken": check.broken,
                "tried": [{"output_shift": list(d), "max_abs_diff": diff, "positions": n}
                          for d, diff, n in check.tried]})
        if flat_values is not None and not matrix:
            sections.append(ex.values_section(report, flat_values, dims, kernel))  # type: ignore[arg-type]
        if matrix:
            sections += ex.matrix_sections(report, kernel, flat_values)
    if fmt is TextFormat.json:
        _write_json({s.title: s.data for s in sections})
        return
    lines: list[str] = []
    for section in sections:
        lines += [f"== {section.title} ==", *section.lines, ""]
    _write(lines)


# --------------------------------------------------------------------------------------------------
# convcalc compare
# --------------------------------------------------------------------------------------------------


class Counterpart(str, Enum):
    grouped = "grouped"
    depthwise = "depthwise"
    spatial = "spatial"


def _split_calls(text: str) -> list[str]:
    """'Conv2d(...), Conv2d(...)' -> the two call texts (a single call stays one)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return [text]
    if isinstance(tree.body, ast.Tuple):
        parts = [ast.get_source_segment(text.strip(), node) for node in tree.body.elts]
        return [p for p in parts if p]
    return [text]


def _side_analysis(source: str, input_text: str | None, sets: list[str] | None) -> tuple[str, "Analysis"]:
    from convcalc.analysis.core import analyze
    from convcalc.spec.inline import looks_like_expression, spec_from_expressions

    if looks_like_expression(source):
        if not input_text:
            raise SpecError("layer expressions need --input", hint="e.g. --input 1x64x56x56")
        calls = _split_calls(source)
        label = calls[0] if len(calls) == 1 else f"{calls[0]} + {len(calls) - 1} more"
        return label, analyze(spec_from_expressions(calls, None), input_shape=parse_shape(input_text))
    analysis = analyze(resolve_spec([source], None, input_text, sets),
                       input_shape=parse_shape(input_text) if input_text else None)
    return analysis.name, analysis


@app.command(name="compare")
def compare_command(
    sources: SourcesArg = None,
    archs: Annotated[Optional[list[str]], typer.Option(
        "--arch", "-a", help="A built-in architecture to put side by side (repeatable).", show_default=False,
        autocompletion=complete_arch)] = None,
    input_text: InputOpt = None,
    sets: SetOpt = None,
    layer_name: LayerOpt = None,
    to: Annotated[Optional[list[Counterpart]], typer.Option(
        "--to", help="Which counterparts of a conv to show (repeatable; default: all that apply).",
        show_default=False)] = None,
    groups: Annotated[Optional[int], typer.Option(
        "--groups", "-g", help="groups for the grouped counterpart (default: 8, 4 or 2, whichever divides).",
        show_default=False)] = None,
    kernel: Annotated[Optional[str], typer.Option(
        "--kernel", "-k", help="A 2D kernel, e.g. \"[[3,6,9],[4,8,12],[5,10,15]]\": is it spatially separable "
                               "(rank 1)? Its exact factors.", show_default=False)] = None,
    fmt: FormatOpt = TextFormat.table,
) -> None:
    """What-if design: a conv against its grouped / depthwise-separable / spatially separable counterparts, or
    two specs / --archs / layer groups side by side (params, MACs, receptive field, output, savings).

    Example: [bold]convcalc compare "Conv2d(64, 128, 3, padding=1)" --input 1x64x56x56[/]
    Example: [bold]convcalc compare "Conv2d(8, 8, 5, padding=2)" "Conv2d(8, 8, 3, padding=1), Conv2d(8, 8, 3)" -i 1x8x9x9[/]
    Example: [bold]convcalc compare --arch vgg16 --arch resnet18[/]
    Example: [bold]convcalc compare --kernel "[[3,6,9],[4,8,12],[5,10,15]]"[/]
    """
    from convcalc.understand import compare as cmp

    sources = sources or []
    archs = archs or []
    data: dict[str, Any] = {}
    lines: list[str] = []
    with _errors():
        if not sources and not archs and kernel is None:
            raise SpecError("nothing to compare", hint="give one conv (its counterparts), two specs / --archs / "
                                                      "layer expressions (side by side), or --kernel MATRIX")
        if kernel is not None:
            k_data, k_lines = _kernel_report(kernel)
            data["kernel"] = k_data
            lines += k_lines
        comparison = None
        one_call = len(sources) == 1 and len(_split_calls(sources[0])) == 1 and sources[0].rstrip().endswith(")")
        single_layer = len(sources) == 1 and not archs and (layer_name is not None or one_call)
        if single_layer:
            _, report, _ = _load(sources, None, input_text, sets, layer_name)
            which = [t.value for t in to] if to else list(cmp.VARIANTS)
            comparison = cmp.counterparts(report.layer, which, groups)
        elif sources or archs:
            if to or groups is not None:
                raise SpecError("--to and --groups choose counterparts of one conv; they do not apply to a "
                                "side-by-side comparison")
            named = [_side_analysis(s, input_text, sets) for s in sources]
            for name in archs:
                from convcalc.analysis.core import analyze

                named.append((name, analyze(resolve_spec(None, name, input_text, sets),
                                            input_shape=parse_shape(input_text) if input_text else None)))
            if len(named) < 2:
                raise SpecError("a side-by-side comparison needs two or more specs, --archs or layer expressions",
                                hint="for one layer's counterparts give a single layer expression, or --layer NAME")
            comparison = cmp.side_by_side(named)
        if comparison is not None:
            data.update(comparison.to_dict())
            if lines:
                lines.append("")
            lines += comparison.lines()
    if fmt is TextFormat.json:
        _write_json(data)
    else:
        _write(lines)


def _kernel_report(text: str) -> tuple[dict[str, Any], list[str]]:
    from convcalc.understand import separable as sep
    from convcalc.understand.explain import parse_matrix

    flat, dims = parse_matrix(text, "--kernel")
    if len(dims) != 2:
        raise SpecError("--kernel must be a 2D matrix like [[1, 2, 1], [2, 4, 2], [1, 2, 1]]")
    rows = [flat[i:i + dims[1]] for i in range(0, len(flat), dims[1])]
    result = sep.analyse(rows)
    lines = [f"kernel {dims[0]}x{dims[1]}: " + "[" + ", ".join(sep.fmt_vector(r) for r in result.kernel) + "]"]
    lines += sep.describe(result)
    diff = sep.verify(result)
    scale = max((abs(float(v)) for row in result.kernel for v in row), default=1.0) or 1.0
    ok = diff <= 1e-9 * scale * dims[0] * dims[1] * 10
    lines.append(f"checked in torch: conv2d with the kernel {'==' if ok else '!='} the separable convs "
                 f"(max |diff| {diff:.1e})")
    data = result.to_dict()
    data["torch_max_abs_diff"] = diff
    return data, lines
