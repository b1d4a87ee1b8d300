"""`convcalc explain`: the arithmetic behind one layer, with the user's numbers.

The formulas come from the layer class (`Layer.formulas`); this module groups them, adds what the
analysis knows (receptive field before and after, the input sizes that give the same output), and the
optional views: the layer as a matrix, translation equivariance checked in torch, and the layer applied
to a small input matrix. torch is imported lazily, only by the views that run it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Sequence

from convcalc.analysis.core import Analysis, LayerReport
from convcalc.errors import LayerError
from convcalc.layers.base import RF, Formula, fmt_shape, identity_rf
from convcalc.spec.expand import NET_INPUT
from convcalc.understand import matrix as mx
from convcalc.understand.layerexpr import axis_names, layer_expression
from convcalc.understand.transpose import is_transposed, is_window, spatial_of, window_geometry

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    data: Any = None


def _value(value: Any) -> Any:
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    return value


def _num(value: Any) -> str:
    if value is None:
        return "global"
    return mx.fmt_number(value)


def input_rfs(analysis: Analysis, report: LayerReport) -> list[RF]:
    rfs = []
    for name in report.inputs:
        if name == NET_INPUT:
            rfs.append(identity_rf(len(analysis.input_shape) - 2))
        else:
            rfs.append(analysis.layer(name).receptive_field.axes)
    return rfs


def _group(formula: Formula) -> str:
    topic = formula.topic.lower()
    if topic.startswith("output size"):
        return "shape"
    if "rf" in topic or topic.startswith("jump"):
        return "rf"
    if "param" in topic:
        return "params"
    return "cost"


def _formula_lines(formulas: Sequence[Formula]) -> list[str]:
    """Rule, then numbers; dims with the very same arithmetic share one entry ('output size (H, W)')."""
    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for f in formulas:
        base, _, label = f.topic.partition(" (")
        key = (base, f.rule, f.numbers, _num(f.value))
        merged.setdefault(key, []).append(label.rstrip(")"))
    lines = []
    for (base, rule, numbers, value), labels in merged.items():
        topic = f"{base} ({', '.join(labels)})" if any(labels) else base
        lines.append(f"{topic}: {rule}")
        worked = f"{numbers} = {value}" if numbers != value else value
        lines.append(f"{' ' * len(topic)}  = {worked}")
    return lines


def _formula_data(formulas: Sequence[Formula]) -> list[dict[str, Any]]:
    return [{"topic": f.topic, "rule": f.rule, "numbers": f.numbers, "value": _value(f.value)} for f in formulas]


def explain(analysis: Analysis, report: LayerReport) -> list[Section]:
    """The arithmetic sections (no torch): layer, output size, receptive field, parameters, cost."""
    layer = report.layer
    formulas = layer.formulas(layer.rules_view(input_rfs(analysis, report)))
    groups: dict[str, list[Formula]] = {"shape": [], "rf": [], "params": [], "cost": []}
    for f in formulas:
        groups[_group(f)].append(f)
    sections = []

    head = Section("Layer", data={
        "name": report.name, "type": report.type, "expression": layer_expression(layer),
        "input_shapes": [list(s) for s in report.input_shapes], "output_shape": list(report.output_shape)})
    head.lines.append(f"{report.name}: {layer_expression(layer)}")
    head.lines.append(f"input {' + '.join(fmt_shape(s) for s in report.input_shapes)} -> output "
                      f"{fmt_shape(report.output_shape)}")
    if layer.summary:
        head.lines.append(layer.summary)
    sections.append(head)

    shape = Section("Output size", _formula_lines(groups["shape"]), {"formulas": _formula_data(groups["shape"])})
    if not groups["shape"]:
        shape.lines.append(f"output shape {fmt_shape(report.output_shape)} (no per-dim formula written out for "
                           f"{report.type})")
    shape.lines += _ambiguity_lines(report)
    shape.data["ambiguity"] = report.ambiguity
    sections.append(shape)

    rf = Section("Receptive field (Araujo et al. 2019)", _formula_lines(groups["rf"]),
                 {"formulas": _formula_data(groups["rf"]), "after": report.receptive_field.to_dict()})
    if not report.receptive_field.axes:
        rf.lines.append("no spatial dims: the receptive field is not defined here")
    elif not groups["rf"]:
        rf.lines.append(f"size {_axes(report.receptive_field.size)}, jump {_axes(report.receptive_field.jump)}, "
                        f"start {_axes(report.receptive_field.start)} (relative to the network input)")
    elif report.inputs != (NET_INPUT,):
        rf.lines.append("(r_in, j_in, start_in: the field of this layer's input, relative to the network input)")
    sections.append(rf)

    params = Section("Parameters", _formula_lines(groups["params"]),
                     {"formulas": _formula_data(groups["params"]), "params": report.params, "buffers": report.buffers})
    if not groups["params"]:
        params.lines.append(f"params {report.params:,}")
    if report.buffers:
        params.lines.append(f"buffers (not learned) {report.buffers:,}")
    sections.append(params)

    cost = Section("MACs and FLOPs", _formula_lines(groups["cost"]),
                   {"formulas": _formula_data(groups["cost"]), "macs": report.macs, "flops": report.flops,
                    "fvcore_flops": report.fvcore_flops, "torch_flops": report.torch_flops})
    if not groups["cost"]:
        cost.lines.append(f"MACs {report.macs:,}; FLOPs {report.flops:,} ({layer.flops_rule})")
    cost.lines.append(f"fvcore counts {report.fvcore_flops:,}; torch FlopCounterMode counts {report.torch_flops:,}")
    sections.append(cost)
    return sections


def _axes(values: Sequence[Any]) -> str:
    return " x ".join(_num(v) for v in values)


def _ambiguity_lines(report: LayerReport) -> list[str]:
    info = report.ambiguity or {}
    names = axis_names(report.layer.ndim or 0)
    lines = []
    ranges: dict[tuple[int, int], list[str]] = {}
    for i, (lo, hi) in enumerate(info.get("equivalent_input_sizes") or []):
        if lo != hi:
            ranges.setdefault((lo, hi), []).append(names[i])
    for (lo, hi), dims in ranges.items():
        lines.append(f"every input size {lo}..{hi} in dim {', '.join(dims)} gives the same output size "
                     "(the division floors; `convcalc transpose` shows the way back)")
    for i, choice in enumerate(info.get("output_padding_choices") or []):
        if len(choice["output_padding"]) > 1:
            pairs = ", ".join(f"{op} -> {size}" for op, size in zip(choice["output_padding"], choice["output_sizes"]))
            lines.append(f"dim {names[i]}: output_padding {pairs} (all valid; `convcalc transpose --target` solves it)")
    return lines


# --------------------------------------------------------------------------------------------------
# translation equivariance
# --------------------------------------------------------------------------------------------------


def ancestors(analysis: Analysis, name: str) -> list[LayerReport]:
    """The layers `name` depends on (itself included), in network order."""
    needed = {name}
    for report in reversed(analysis.layers):
        if report.name in needed:
            needed.update(report.inputs)
    return [r for r in analysis.layers if r.name in needed]


def period(analysis: Analysis, report: LayerReport) -> list[int] | None:
    """Per dim, the smallest input shift that every layer on the way can follow by whole positions.

    A shift S stays whole at a layer of jump J when S/J is an integer, i.e. when J's numerator divides S;
    None once a field is global (no spatial equivariance left).
    """
    result: list[int] | None = None
    for r in ancestors(analysis, report.name):
        jumps = r.receptive_field.axes
        if any(a.jump is None for a in jumps):
            return None
        nums = [Fraction(a.jump).numerator for a in jumps]  # type: ignore[arg-type]
        result = nums if result is None else [math.lcm(x, y) for x, y in zip(result, nums)]
    return result


def equivariance_section(analysis: Analysis, report: LayerReport) -> Section:
    names = axis_names(len(analysis.input_shape) - 2)
    jumps = report.receptive_field.axes
    section = Section("Translation equivariance")
    per = period(analysis, report)
    if per is None or not jumps or len(jumps) != len(analysis.input_shape) - 2:
        section.lines.append("this layer's field is global (or it has no spatial dims): shifting the input does not "
                             "shift its output")
        section.data = {"equivariant": False}
        return section
    texts: dict[str, list[str]] = {}
    for i, (axis, p) in enumerate(zip(jumps, per)):
        j = Fraction(axis.jump)  # type: ignore[arg-type]
        if p == 1 and j == 1:
            text = "jump 1 - shifting the input by S shifts this output by S (away from the borders)"
        elif p == 1:
            text = f"jump {_num(j)} - shifting the input by S shifts this output by S/({_num(j)}) = {_num(1 / j)}*S"
        elif p == j:
            text = (f"jump {_num(j)} - an input shift S moves this output by S/{_num(j)}; it stays a shifted copy "
                    f"only when S is a multiple of {p}, otherwise equivariance breaks")
        else:
            text = (f"jump {_num(j)} - an input shift S moves this output by S/{_num(j)}, but a layer on the way "
                    f"has a jump of {p}: only multiples of {p} keep it a shifted copy")
        texts.setdefault(text, []).append(names[i])
    section.lines += [f"dim {', '.join(dims)}: {text}" for text, dims in texts.items()]
    section.data = {"jump": [_value(a.jump) for a in jumps], "period": per}
    return section


@dataclass(frozen=True)
class EquivarianceCheck:
    shift: tuple[int, ...]
    expected: tuple[Fraction, ...]  # output shift per dim (S / jump)
    period: tuple[int, ...]  # shifts that every layer on the way follows by whole positions
    tried: tuple[tuple[tuple[int, ...], float, int], ...]  # (output shift, max |diff| over the interior, positions)

    @property
    def whole(self) -> bool:
        """The expected output shift is a whole number of positions in every dim."""
        return all(e.denominator == 1 for e in self.expected)

    @property
    def multiple(self) -> bool:
        """The input shift is a multiple of the period in every dim: equivariance should hold."""
        return all(s % p == 0 for s, p in zip(self.shift, self.period))

    @property
    def compared(self) -> bool:
        return any(n > 0 for _, _, n in self.tried)

    @property
    def holds(self) -> bool:
        return self.whole and self.compared and self.tried[0][1] <= 1e-9

    @property
    def broken(self) -> bool:
        """No whole output shift reproduces the output (every candidate compared differs)."""
        return self.compared and all(diff > 1e-9 for _, diff, n in self.tried if n > 0)


def _module_for(report: LayerReport, seed: int) -> "torch.nn.Module":
    import torch

    torch.manual_seed(seed)
    try:
        module = report.layer.build()
    except NotImplementedError:
        raise LayerError(f"cannot run {report.type} ('{report.name}') in torch to check equivariance",
                         arg="type") from None
    return module.to(torch.float64).eval()


def check_equivariance(analysis: Analysis, report: LayerReport, shift: Sequence[int],
                       seed: int = 0) -> EquivarianceCheck:
    """Run the network up to `report` in torch on x and on x shifted by `shift`; compare the outputs."""
    import itertools

    import torch

    nd = len(analysis.input_shape) - 2
    if nd == 0:
        raise LayerError("the input has no spatial dims: there is nothing to shift", arg="shift")
    if len(shift) == 1 and nd > 1:
        shift = tuple(shift) * nd
    if len(shift) != nd:
        raise LayerError(f"--shift needs 1 or {nd} values, got {len(shift)}", arg="shift")
    jumps = [a.jump for a in report.receptive_field.axes]
    if any(j is None for j in jumps) or len(jumps) != nd:
        raise LayerError("this layer's field is global: there is no output shift to check", arg="shift")
    chain = ancestors(analysis, report.name)
    modules = {r.name: _module_for(r, seed + i) for i, r in enumerate(chain)}
    shape = (1, *analysis.input_shape[1:])
    spatial = shape[2:]
    generator = torch.Generator().manual_seed(seed)
    big = torch.randn(*shape[:2], *(n + abs(s) for n, s in zip(spatial, shift)), dtype=torch.float64,
                      generator=generator)
    # x' = x shifted by s: x'[t] = x[t - s], with fresh values entering from the border
    x_index = tuple(slice(abs(s), abs(s) + n) if s > 0 else slice(0, n) for n, s in zip(spatial, shift))
    xs_index = tuple(slice(0, n) if s > 0 else slice(abs(s), abs(s) + n) for n, s in zip(spatial, shift))
    x = big[(slice(None), slice(None), *x_index)]
    xs = big[(slice(None), slice(None), *xs_index)]

    def run(inp: "torch.Tensor") -> "torch.Tensor":
        values: dict[str, Any] = {NET_INPUT: inp}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for r in chain:
                values[r.name] = modules[r.name](*[values[n] for n in r.inputs])
        return values[report.name]

    y, ys = run(x), run(xs)
    out_sp = y.shape[2:] if y.dim() == nd + 2 else y.shape[1:]
    axes = report.receptive_field.axes
    expected = tuple(Fraction(s) / Fraction(j) for s, j in zip(shift, jumps))  # type: ignore[arg-type]
    whole = all(e.denominator == 1 for e in expected)
    per = period(analysis, report) or [1] * nd

    def inside(o: int, i: int) -> bool:
        a = axes[i]
        centre = a.start + o * a.jump  # type: ignore[operator]
        lo, hi = centre - (a.size - 1) / 2, centre + (a.size - 1) / 2
        n, s = spatial[i], shift[i]
        return lo >= max(0, -s) and hi <= min(n, n - s) - 1

    candidates = [tuple(int(e) for e in expected)] if whole else sorted(set(itertools.product(
        *[(math.floor(e), math.ceil(e)) for e in expected])))
    tried = []
    for delta in candidates:
        keep = []
        for i in range(nd):
            rows = [o for o in range(out_sp[i]) if inside(o, i) and 0 <= o + delta[i] < out_sp[i]]
            keep.append(rows)
        count = math.prod(len(k) for k in keep)
        if count == 0:
            tried.append((delta, 0.0, 0))
            continue
        idx = torch.meshgrid(*[torch.tensor(k) for k in keep], indexing="ij")
        moved = tuple(t + d for t, d in zip(idx, delta))
        a = y[(Ellipsis, *idx)]
        b = ys[(Ellipsis, *moved)]
        tried.append((delta, float((a - b).abs().max()), count))
    return EquivarianceCheck(tuple(shift), expected, tuple(per), tuple(tried))


def describe_check(check: EquivarianceCheck) -> list[str]:
    exp = " x ".join(_num(e) for e in check.expected)
    shift = " x ".join(map(str, check.shift))
    if not check.compared:
        return [f"input shift {shift}: the map is too small to compare away from the borders; use a larger input"]
    lines = []
    if check.multiple:
        delta, diff, count = check.tried[0]
        verdict = "holds" if check.holds else "FAILS"
        lines.append(f"checked in torch: input shift {shift} -> output shift {' x '.join(map(str, delta))}: "
                     f"equivariance {verdict} on {count} interior positions (max |diff| {diff:.1e})")
        return lines
    period = " x ".join(map(str, check.period))
    if check.whole:
        lines.append(f"checked in torch: input shift {shift} is not a multiple of {period} (a layer on the way "
                     "skips positions), so equivariance breaks:")
    else:
        lines.append(f"checked in torch: input shift {shift} would need an output shift of {exp} positions - not a "
                     "whole number, so equivariance breaks:")
    for delta, diff, count in check.tried:
        if count:
            lines.append(f"  output shifted by {' x '.join(map(str, delta))}: differs (max |diff| {diff:.3g} over "
                         f"{count} positions)")
    if not check.broken:
        lines.append("  (a whole shift matched anyway: this input or these weights are degenerate)")
    return lines


# --------------------------------------------------------------------------------------------------
# the layer applied to a given input matrix
# --------------------------------------------------------------------------------------------------


def parse_matrix(text: str, what: str) -> tuple[list[Any], tuple[int, ...]]:
    """'[[1,0],[3,4]]' or '1,2,3' -> (flat values, dims); numbers stay exact (int or Fraction)."""
    import ast

    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise LayerError(f"{what} must be a list like [[1, 0], [3, 4]], got {text!r}", arg=what) from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    rows = list(value) if isinstance(value, (list, tuple)) else None
    if not rows:
        raise LayerError(f"{what} must be a non-empty list of numbers or of equal-length rows, got {text!r}", arg=what)
    if all(isinstance(r, (list, tuple)) for r in rows):
        width = len(rows[0])
        if width == 0 or any(len(r) != width for r in rows):
            raise LayerError(f"{what}: every row must have the same, non-zero length", arg=what)
        flat = [v for r in rows for v in r]
        dims: tuple[int, ...] = (len(rows), width)
    else:
        flat, dims = rows, (len(rows),)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
        raise LayerError(f"{what} must hold numbers only (1D or 2D), got {text!r}", arg=what)
    return [v if isinstance(v, int) else Fraction(str(v)) for v in flat], dims


def window_lines(report: LayerReport, values: Sequence[Any], outputs: Sequence[float], limit: int = 16) -> list[str]:
    """For a sliding-window layer: which inputs each output reads, next to the output value."""
    layer = report.layer
    geo = window_geometry(layer)
    spatial_in = spatial_of(layer)
    spatial_out = spatial_of(layer, layer.out_shape)
    import itertools

    lines = []
    for count, out in enumerate(itertools.product(*(range(n) for n in spatial_out))):
        if count >= limit:
            lines.append(f"... ({math.prod(spatial_out) - limit} more outputs)")
            break
        taps_per_dim = [[o * s - p + m * d for m in range(k)]
                        for o, s, p, d, k in zip(out, geo["stride"], geo["pad_left"], geo["dilation"],
                                                 geo["kernel_size"])]
        cells = []
        for t in itertools.product(*taps_per_dim):
            inside = all(0 <= ti < n for ti, n in zip(t, spatial_in))
            cells.append(mx.fmt_number(values[mx.flat(t, spatial_in)]) if inside else "pad")
        rows = [cells[i:i + geo["kernel_size"][-1]] for i in range(0, len(cells), geo["kernel_size"][-1])]
        window = "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]" if len(spatial_in) > 1 \
            else "[" + ", ".join(cells) + "]"
        label = ",".join(map(str, out))
        lines.append(f"out[{label}] <- window {window} = {mx.fmt_number(outputs[count])}")
    return lines


def values_section(report: LayerReport, values: Sequence[Any], dims: Sequence[int],
                   kernel: Sequence[Any] | None) -> Section:
    """Run the layer in torch on one channel holding `values` and show input, windows and output."""
    import torch

    layer = report.layer
    nd = layer.ndim or 0
    in_sp = spatial_of(layer)
    if tuple(dims) != tuple(in_sp) or layer.in_shape[len(layer.in_shape) - nd - 1] != 1:
        raise LayerError(f"--values is a {' x '.join(map(str, dims))} matrix, but this layer's input is "
                         f"{fmt_shape(layer.in_shape)}: give a 1-channel input of that size", arg="values")
    torch.manual_seed(0)
    module = layer.build().to(torch.float64).eval()
    section = Section("Values")
    if mx.supports_matrix(layer):
        if layer.out_shape[len(layer.out_shape) - nd - 1] != 1:
            raise LayerError("--values with a convolution needs out_channels=1 (one kernel to show)", arg="values")
        weights = list(kernel) if kernel is not None else list(range(1, math.prod(layer.kernel_size) + 1))
        with torch.no_grad():
            module.weight.copy_(torch.tensor([float(w) for w in weights], dtype=torch.float64).reshape(
                module.weight.shape))
            if module.bias is not None:
                module.bias.zero_()
        section.lines.append(f"kernel (bias 0): {_inline(mx.grid_of_values(weights, layer.kernel_size))}")
    x = torch.tensor([float(v) for v in values], dtype=torch.float64).reshape(1, 1, *in_sp)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = module(x)
    out = y.flatten().tolist()
    out_sp = spatial_of(layer, layer.out_shape)
    section.lines.append("input:")
    section.lines += ["  " + line for line in mx.grid_of_values(values, in_sp)]
    if is_window(layer) and not is_transposed(layer):
        section.lines.append("windows:")
        section.lines += ["  " + line for line in window_lines(report, values, out)]
    section.lines.append(f"output (computed by torch {report.type}):")
    section.lines += ["  " + line for line in mx.grid_of_values(out, out_sp)]
    section.data = {"input": _nested(values, in_sp), "output": _nested(out, out_sp)}
    return section


def _inline(grid: Sequence[str]) -> str:
    return " ".join(line.strip() for line in grid)


def _nested(values: Sequence[Any], dims: Sequence[int]) -> Any:
    plain = [_value(v) if not isinstance(v, float) or not v.is_integer() else int(v) for v in values]
    if len(dims) == 1:
        return plain
    return [plain[i:i + dims[-1]] for i in range(0, len(plain), dims[-1])]


# --------------------------------------------------------------------------------------------------
# the matrix view
# --------------------------------------------------------------------------------------------------


def matrix_sections(report: LayerReport, kernel: Sequence[Any] | None, values: Sequence[Any] | None) -> list[Section]:
    layer = report.layer
    geo = mx.geometry(layer)
    mx.check_size(geo)
    nd = geo.ndim
    rows, cols = math.prod(geo.out_spatial), math.prod(geo.in_spatial)
    c_in = layer.in_shape[len(layer.in_shape) - nd - 1]
    c_out = layer.out_shape[len(layer.out_shape) - nd - 1]
    kind = "transposed convolution" if geo.transposed else "convolution"
    out_labels, in_labels = mx.labels("y", geo.out_spatial), mx.labels("x", geo.in_spatial)

    first = Section(f"The {kind} as a matrix: y = W x")
    first.lines.append(f"x: the input flattened row by row ({cols} values), y: the output ({rows} values); "
                       f"W is {rows} x {cols}" + ("" if c_in * c_out == 1 else
                                                  f" for one (input, output) channel pair; the whole layer is a "
                                                  f"{c_out} x {c_in // int(layer.values.get('groups') or 1)} grid of "
                                                  "such blocks (zero between groups)"))
    if geo.transposed:
        first.lines.append("each input x_i scatters the kernel into the output, so column i holds the kernel: "
                           "W is the transpose of a convolution's matrix")
    else:
        first.lines.append("each row is the kernel slid to one output position (im2col reads the same taps as rows "
                           "of patches); zeros where the kernel does not reach")
    first.lines += mx.render_grid(mx.symbolic_cells(geo), out_labels, in_labels)
    sections = [first]

    kernel_values = list(kernel) if kernel is not None else list(range(1, math.prod(geo.kernel) + 1))
    if len(kernel_values) != math.prod(geo.kernel):
        raise LayerError(f"--weights has {len(kernel_values)} values, the kernel has {math.prod(geo.kernel)}",
                         arg="weights")
    x_values = list(values) if values is not None else list(range(1, cols + 1))
    if len(x_values) != cols:
        raise LayerError(f"--values has {len(x_values)} values, the input has {cols}", arg="values")
    w = mx.dense(geo, kernel_values)
    y = mx.matvec(w, x_values)
    back = mx.matvec(mx.transpose(w), y)
    torch_y, torch_back = mx.run_single(layer, kernel_values, x_values)

    nums = Section("With numbers")
    nums.lines.append(f"kernel w = {_inline(mx.grid_of_values(kernel_values, geo.kernel))}"
                      + ("" if kernel is not None else "  (give your own with --weights)"))
    nums.lines.append("x =")
    nums.lines += ["  " + line for line in mx.grid_of_values(x_values, geo.in_spatial)]
    nums.lines.append("y = W x =")
    nums.lines += ["  " + line for line in mx.grid_of_values(y, geo.out_spatial)]
    diff_y = max(abs(float(a) - b) for a, b in zip(y, torch_y))
    op = f"conv_transpose{nd}d" if geo.transposed else f"conv{nd}d"
    nums.lines.append(f"torch.nn.functional.{op}(x, w) gives the same: {'yes' if diff_y <= 1e-9 else 'NO'} "
                      f"(max |diff| {diff_y:.1e})")
    sections.append(nums)

    back_section = Section("The transpose: W^T maps y back to x's shape")
    other = f"conv{nd}d" if geo.transposed else f"conv_transpose{nd}d"
    back_section.lines.append(f"W^T is {cols} x {rows}: it is the matrix of the {other} with the same weights"
                              if torch_back is not None else
                              f"W^T is {cols} x {rows}: this padding has no plain {other} equivalent "
                              "(computed from the matrix only)")
    if rows <= 32 and cols <= MAX_TRANSPOSE_COLS:
        back_section.lines += mx.render_grid(mx.symbolic_cells(geo, transposed_view=True), in_labels, out_labels)
    back_section.lines.append("W^T y =")
    back_section.lines += ["  " + line for line in mx.grid_of_values(back, geo.in_spatial)]
    if torch_back is not None:
        diff_b = max(abs(float(a) - b) for a, b in zip(back, torch_back))
        back_section.lines.append(f"torch.nn.functional.{other}(y, w) gives the same: "
                                  f"{'yes' if diff_b <= 1e-9 else 'NO'} (max |diff| {diff_b:.1e})")
    same = [Fraction(a) == Fraction(b) for a, b in zip(back, x_values)] if all(
        isinstance(v, (int, Fraction)) for v in list(back) + list(x_values)) else None
    inverse = same is not None and all(same)
    back_section.lines.append(
        "lesson: W^T (W x) has x's shape but not x's values - the transposed convolution inverts the shape, "
        "not the numbers" if not inverse else
        "here W^T (W x) happens to equal x (W has orthonormal columns); in general it does not")
    sections.append(back_section)

    check = Section("Checked against torch (every channel pair, random weights)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = mx.verify(layer)
    check.lines += [r.describe() for r in results]
    check.data = [{"what": r.what, "max_abs_diff": r.max_abs_diff, "ok": r.ok} for r in results]
    sections.append(check)
    sections[0].data = {"rows": rows, "cols": cols, "cells": mx.symbolic_cells(geo),
                        "row_labels": out_labels, "col_labels": in_labels}
    nums.data = {"kernel": [_value(v) for v in kernel_values], "x": [_value(v) for v in x_values],
                 "y": [_value(v) for v in y], "torch_y": torch_y}
    back_section.data = {"back": [_value(v) for v in back], "torch_back": torch_back, "equals_x": inverse}
    return sections


MAX_TRANSPOSE_COLS = 32
