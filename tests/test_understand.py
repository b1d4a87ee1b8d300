"""The understanding tools (transpose, explain, compare), each answer proven against real torch modules."""

from __future__ import annotations

import os
import ast
import json
import math
import subprocess
import sys
import textwrap
from fractions import Fraction
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from convcalc.analysis.core import analyze
from convcalc.cli import app
from convcalc.errors import LayerError, SpecError
from convcalc.layers.base import identity_rf
from convcalc.spec.inline import spec_from_expressions
from convcalc.understand import compare as cmp
from convcalc.understand import explain as ex
from convcalc.understand import matrix as mx
from convcalc.understand import separable as sep
from convcalc.understand import transpose as tr
from convcalc.understand.layerexpr import layer_expression, make_layer

runner = CliRunner()
SETTINGS = settings(max_examples=int(os.environ.get("CONVCALC_EXAMPLES", 40)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
LECTURE = "[[1,0,3,5],[3,4,2,2],[1,3,3,9],[5,7,8,4]]"


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def torch_out(module: nn.Module, in_shape: tuple[int, ...], **kwargs: Any) -> tuple[int, ...] | None:
    """Spatial output size of a module on zeros, or None where torch raises."""
    try:
        with torch.no_grad():
            return tuple(module(torch.zeros(in_shape), **kwargs).shape[2:])
    except (RuntimeError, ValueError):
        return None


def from_expression(expression: str, in_shape: tuple[int, ...]) -> Any:
    """An expression printed by convcalc, parsed back and built: proves it is valid and means what it says."""
    analysis = analyze(spec_from_expressions([expression], None), input_shape=in_shape)
    return analysis.layers[0].layer


# --------------------------------------------------------------------------------------------------
# transpose: ConvTranspose + target -> output_padding
# --------------------------------------------------------------------------------------------------


@st.composite
def transposed_layers(draw: Any, max_ndim: int = 3) -> tuple[Any, tuple[int, ...]]:
    nd = draw(st.integers(1, max_ndim))
    side = 5 if nd < 3 else 3
    args = {
        "out_channels": 1,
        "kernel_size": [draw(st.integers(1, 4)) for _ in range(nd)],
        "stride": [draw(st.integers(1, 4)) for _ in range(nd)],
        "padding": [draw(st.integers(0, 3)) for _ in range(nd)],
        "dilation": [draw(st.integers(1, 3)) for _ in range(nd)],
    }
    n = tuple(draw(st.integers(1, side)) for _ in range(nd))
    try:
        layer = tr.construct(f"ConvTranspose{nd}d", args, (1, 1, *n))
    except LayerError:
        assume(False)
    reach = [max(layer.out_size(i, m, op) for op in layer.valid_output_paddings(i)) for i, m in enumerate(n)]
    target = tuple(draw(st.integers(1, r + 3)) for r in reach)
    return layer, target


def _with_padding(layer: Any, axis: int, op: int) -> nn.Module:
    ops = list(layer.output_padding)  # the other dims keep a valid value
    ops[axis] = op
    cls = getattr(nn, layer.type_name)
    return cls(1, 1, tuple(layer.kernel_size), stride=tuple(layer.stride), padding=tuple(layer.padding),
               output_padding=tuple(ops), dilation=tuple(layer.dilation))


@SETTINGS
@given(transposed_layers())
def test_solver_answers_are_what_torch_does(case: tuple[Any, tuple[int, ...]]) -> None:
    layer, target = case
    note(f"{layer.type_name} {layer.resolved_args()} input {layer.in_shape} target {target}")
    answer = tr.solve(layer, target)
    for a in answer.axes:
        # every output size torch can produce in this dim, over every output_padding its constructor accepts
        produced = {}
        for op in range(max(layer.stride[a.axis], layer.dilation[a.axis])):
            try:
                module = _with_padding(layer, a.axis, op)
            except (RuntimeError, ValueError):
                continue
            out = torch_out(module, layer.in_shape)
            if out is not None and out[a.axis] > 0:  # oneDNN may return an empty map; no target is empty
                produced[op] = out[a.axis]
        assert sorted(a.options) == sorted(produced.items())
        assert a.ok == (a.target in produced.values())
        if a.ok:
            assert produced[a.output_padding] == a.target
    if answer.ok:
        solved = answer.solved.build()
        assert torch_out(solved, layer.in_shape) == tuple(target)
        plain = getattr(nn, layer.type_name)(1, 1, tuple(layer.kernel_size), stride=tuple(layer.stride),
                                             padding=tuple(layer.padding), dilation=tuple(layer.dilation))
        via_forward = torch_out(plain, layer.in_shape, output_size=list(target))
        # forward(output_size=) accepts only output_padding < stride; the answer says which case this is
        assert (via_forward == tuple(target)) == answer.forward_ok
        assert answer.forward_ok or via_forward is None
        assert from_expression(answer.expression, layer.in_shape).out_shape == answer.solved.out_shape
    for a in answer.axes:
        if a.ok:
            continue
        for change in a.changes:
            changed = from_expression(change.expression, layer.in_shape)
            assert torch_out(changed.build(), layer.in_shape)[a.axis] == a.target, change
        for m in a.input_sizes:
            shape = list(layer.in_shape)
            shape[2 + a.axis] = m
            sizes = set()
            for op in range(max(layer.stride[a.axis], layer.dilation[a.axis])):
                out = torch_out(_with_padding(layer, a.axis, op), tuple(shape))
                if out is not None:
                    sizes.add(out[a.axis])
            assert a.target in sizes
        if a.below is not None:
            assert a.below < a.target and a.below in a.reachable
        if a.above is not None:
            assert a.above > a.target and a.above in a.reachable


def test_dilation_makes_constructor_and_forward_disagree() -> None:
    layer = make_layer("ConvTranspose1d", {"out_channels": 1, "kernel_size": 3, "dilation": 3}, (1, 1, 4))
    answer = tr.solve(layer, [11])
    assert answer.output_padding == (1,) and not answer.forward_ok
    module = nn.ConvTranspose1d(1, 1, 3, dilation=3)
    with pytest.raises(ValueError):
        module(torch.zeros(1, 1, 4), output_size=[11])
    assert nn.ConvTranspose1d(1, 1, 3, dilation=3, output_padding=1)(torch.zeros(1, 1, 4)).shape[-1] == 11


def test_unreachable_target_lists_reachable_sizes_and_changes() -> None:
    layer = make_layer("ConvTranspose2d", {"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1},
                       (1, 16, 4, 4))
    answer = tr.solve(layer, [8, 10])
    assert not answer.ok and answer.axes[0].output_padding == 1
    w = answer.axes[1]
    assert w.reachable == [7, 8] and w.below == 8 and w.above is None
    assert {(c.arg, c.new) for c in w.changes} >= {("padding", 0), ("stride", 3)}
    text = "\n".join(tr.describe_failure(answer))
    assert "no output_padding reaches 10" in text and "pad the output from 8 to 10" in text


# --------------------------------------------------------------------------------------------------
# transpose: conv / pooling -> the equivalent inputs and the way back
# --------------------------------------------------------------------------------------------------


@st.composite
def forward_layers(draw: Any) -> Any:
    nd = draw(st.integers(1, 3))
    side = 9 if nd < 3 else 5
    n = tuple(draw(st.integers(1, side)) for _ in range(nd))
    kind = draw(st.sampled_from(["Conv", "MaxPool", "AvgPool"]))
    k = [draw(st.integers(1, 4)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    if kind == "Conv":
        padding: Any = draw(st.sampled_from(["same", "valid", "ints"])) if all(v == 1 for v in s) else "ints"
        if padding == "ints":
            padding = [draw(st.integers(0, 2)) for _ in range(nd)]
        args = {"out_channels": 2, "kernel_size": k, "stride": s, "padding": padding,
                "dilation": [draw(st.integers(1, 2)) for _ in range(nd)]}
    else:
        args = {"kernel_size": k, "stride": s, "padding": [draw(st.integers(0, kk // 2)) for kk in k],
                "ceil_mode": draw(st.booleans())}
    try:
        return make_layer(f"{kind}{nd}d", args, (1, 2, *n))
    except LayerError:
        assume(False)


@SETTINGS
@given(forward_layers())
def test_inverse_classes_and_transposes_match_torch(layer: Any) -> None:
    module = layer.build()
    out = torch_out(module, layer.in_shape)
    assert out == tuple(layer.out_shape[2:])
    inverse = tr.invert(layer)
    nd = layer.ndim
    for axis, sizes in enumerate(inverse.classes):
        for m in (sizes[0] - 1, *sizes, sizes[-1] + 1):
            if m < 1:
                continue
            shape = list(layer.in_shape)
            shape[2 + axis] = m
            got = torch_out(module, tuple(shape))
            same = got is not None and got[axis] == out[axis]
            assert same == (m in sizes), (axis, m, sizes)
    for row in inverse.rows:
        if row.answer.ok:
            back = row.answer.solved.build()
            assert torch_out(back, tuple(layer.out_shape)) == row.input_spatial
        else:  # truly unreachable: no output_padding of the mirror gives this input size
            mirror = inverse.mirror
            for a in row.answer.axes:
                if not a.ok:
                    produced = [mirror.out_size(a.axis, mirror.in_shape[2 + a.axis], op)
                                for op in mirror.valid_output_paddings(a.axis)]
                    assert a.target not in produced
    assert len(inverse.rows) == math.prod(len(c) for c in inverse.classes)
    assert nd == len(inverse.classes)


def test_same_padding_with_even_kernel_has_no_plain_transpose() -> None:
    layer = make_layer("Conv1d", {"out_channels": 4, "kernel_size": 4, "padding": "same"}, (1, 3, 7))
    inverse = tr.invert(layer)
    assert not inverse.rows[0].answer.ok
    assert "kernel_size" in {c.arg for c in inverse.rows[0].answer.axes[0].changes}


# --------------------------------------------------------------------------------------------------
# transpose in specs: output_size and skip connections
# --------------------------------------------------------------------------------------------------

UNET = """\
name: unet-bad
input: [1, 1, 57, 57]
layers:
  - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, name: enc1}
  - {type: MaxPool2d, kernel_size: 2}
  - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {type: ConvTranspose2d, out_channels: 4, kernel_size: KERNEL, stride: 2, PAD name: up1}
  - {type: Concat, inputs: [enc1, up1]}
"""


def _unet(kernel: int, extra: str = "") -> str:
    return UNET.replace("KERNEL", str(kernel)).replace("PAD ", extra)


def _run_spec(text: str) -> tuple[int, ...]:
    analysis = analyze(text)
    values: dict[str, torch.Tensor] = {"input": torch.zeros(analysis.input_shape)}
    with torch.no_grad():
        for report in analysis.layers:
            values[report.name] = report.layer.build()(*[values[n] for n in report.inputs])
    return tuple(values[analysis.layers[-1].name].shape)


def test_concat_mismatch_names_both_layers_and_the_output_padding_fix() -> None:
    with pytest.raises(SpecError) as err:
        analyze(_unet(2))
    hint = err.value.hint or ""
    assert "'up1'" in hint and "'enc1'" in hint and "output_padding=1" in hint
    fixed = _unet(2, "output_padding: 1, ")
    assert _run_spec(fixed) == tuple(analyze(fixed).output_shape) == (1, 8, 57, 57)
    via_size = _unet(2, "output_size: enc1, ")
    assert _run_spec(via_size) == (1, 8, 57, 57)
    report = analyze(via_size).layer("up1")
    assert report.args["output_padding"] == (1, 1) or list(report.args["output_padding"]) == [1, 1]


def test_concat_mismatch_without_output_padding_suggests_the_exact_crop() -> None:
    text = _unet(3, "padding: 1, ")
    with pytest.raises(SpecError) as err:
        analyze(text)
    hint = err.value.hint or ""
    assert "crop 'enc1' by [2, 2]" in hint and "no output_padding of 'up1'" in hint
    cropped = text.replace("  - {type: Concat, inputs: [enc1, up1]}",
                           "  - {type: Crop, inputs: [enc1, up1], name: c}\n  - {type: Concat, inputs: [c, up1]}")
    assert _run_spec(cropped) == (1, 8, 55, 55)


def test_unreachable_output_size_in_a_spec_names_the_nearest_changes() -> None:
    with pytest.raises(SpecError) as err:
        analyze(_unet(3, "padding: 1, output_size: enc1, "))
    hint = err.value.hint or ""
    assert "padding 1 -> 0" in hint
    assert _run_spec(_unet(3, "padding: 0, output_size: enc1, ")) == (1, 8, 57, 57)


# --------------------------------------------------------------------------------------------------
# explain: every written-out formula evaluates to the number, and the number is torch's
# --------------------------------------------------------------------------------------------------


def evaluate(text: str) -> Fraction:
    """Evaluate a Formula.numbers expression exactly (integers, + - * /, floor, ceil)."""

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            ops = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}
            if isinstance(node.op, ast.Div):
                return a / b
            return ops[type(node.op)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("floor", "ceil"):
            value = walk(node.args[0])
            return Fraction(math.floor(value) if node.func.id == "floor" else math.ceil(value))
        raise AssertionError(f"unexpected syntax in {text!r}")

    return walk(ast.parse(text, mode="eval"))


@st.composite
def explained_layers(draw: Any) -> Any:
    nd = draw(st.integers(1, 3))
    n = tuple(draw(st.integers(3, 9)) for _ in range(nd))
    kind = draw(st.sampled_from(["Conv", "ConvTranspose", "MaxPool", "AvgPool"]))
    k = [draw(st.integers(1, 3)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    c_in = draw(st.sampled_from([2, 4]))
    if kind in ("Conv", "ConvTranspose"):
        args: dict[str, Any] = {"out_channels": draw(st.sampled_from([2, 6])), "kernel_size": k, "stride": s,
                                "dilation": [draw(st.integers(1, 2)) for _ in range(nd)],
                                "groups": draw(st.sampled_from([1, 2])), "bias": draw(st.booleans())}
        if kind == "Conv" and all(v == 1 for v in s) and draw(st.booleans()):
            args["padding"] = "same"
        else:
            args["padding"] = [draw(st.integers(0, 2)) for _ in range(nd)]
        if kind == "ConvTranspose":
            args["output_padding"] = [draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, args["dilation"])]
    else:
        args = {"kernel_size": k, "stride": s, "padding": [draw(st.integers(0, kk // 2)) for kk in k],
                "ceil_mode": draw(st.booleans())}
    try:
        layer = make_layer(f"{kind}{nd}d", args, (2, c_in, *n))
    except LayerError:
        assume(False)
    assume(math.prod(layer.out_shape) > 0)  # empty outputs are a backend question, not an arithmetic one
    return layer


@SETTINGS
@given(explained_layers())
def test_formulas_evaluate_to_torch_numbers(layer: Any) -> None:
    formulas = layer.formulas([identity_rf(layer.ndim)])
    assert formulas, layer.type_name
    for f in formulas:
        assert evaluate(f.numbers) == Fraction(f.value), f
    module = layer.build()
    out = torch_out(module, layer.in_shape)
    by_topic = {f.topic: f.value for f in formulas}
    for i, label in enumerate({1: "L", 2: "HW", 3: "DHW"}[layer.ndim]):
        assert by_topic[f"output size ({label})"] == out[i]
    if "params" in by_topic:
        assert by_topic["params"] == sum(p.numel() for p in module.parameters())
        with FlopCounterMode(display=False) as counter:
            module(torch.zeros(layer.in_shape))
        assert 2 * by_topic["MACs"] == counter.get_total_flops()
    rf = layer.rf([identity_rf(layer.ndim)])
    for i, label in enumerate({1: "L", 2: "HW", 3: "DHW"}[layer.ndim]):
        assert by_topic[f"RF size ({label})"] == rf[i].size
        assert by_topic[f"jump ({label})"] == rf[i].jump


def test_explain_uses_the_receptive_field_of_the_layer_input() -> None:
    analysis = analyze(spec_from_expressions(["Conv2d(3, 8, 3, stride=2)", "Conv2d(8, 8, 3)"], None),
                       input_shape=(1, 3, 32, 32))
    report = analysis.layers[1]
    sections = {s.title: s for s in ex.explain(analysis, report)}
    rf = sections["Receptive field (Araujo et al. 2019)"]
    size = next(f for f in rf.data["formulas"] if f["topic"] == "RF size (H)")
    assert size["numbers"] == "3 + 1*(3-1)*2" and size["value"] == 7 == report.receptive_field.size[0]


# --------------------------------------------------------------------------------------------------
# explain --matrix: W x and W^T y against torch
# --------------------------------------------------------------------------------------------------


@st.composite
def matrix_layers(draw: Any) -> Any:
    nd = draw(st.integers(1, 2))
    n = tuple(draw(st.integers(2, 6)) for _ in range(nd))
    transposed = draw(st.booleans())
    k = [draw(st.integers(1, 3)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    d = [draw(st.integers(1, 2)) for _ in range(nd)]
    groups = draw(st.sampled_from([1, 2]))
    args: dict[str, Any] = {"out_channels": 2 * draw(st.integers(1, 2)), "kernel_size": k, "stride": s,
                            "dilation": d, "groups": groups}
    if transposed:
        args["padding"] = [draw(st.integers(0, 2)) for _ in range(nd)]
        args["output_padding"] = [draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d)]
    else:
        args["padding"] = [draw(st.integers(0, 2)) for _ in range(nd)]
        args["padding_mode"] = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    try:
        return make_layer(f"{'ConvTranspose' if transposed else 'Conv'}{nd}d", args, (1, 2, *n))
    except LayerError:
        assume(False)


@SETTINGS
@given(matrix_layers())
def test_matrix_products_equal_torch(layer: Any) -> None:
    assume(math.prod(layer.out_shape) > 0)  # oneDNN accepts an empty transposed-conv output: no matrix
    checks = mx.verify(layer)
    assert checks and all(c.ok for c in checks), [c.describe() for c in checks]
    geo = mx.geometry(layer)
    kernel = list(range(1, math.prod(geo.kernel) + 1))
    x = [(-1) ** i * (i + 1) for i in range(math.prod(geo.in_spatial))]
    y_torch, back_torch = mx.run_single(layer, kernel, x)
    w = mx.dense(geo, kernel)
    assert mx.matvec(w, x) == [round(v) for v in y_torch]
    if back_torch is not None:
        assert mx.matvec(mx.transpose(w), mx.matvec(w, x)) == [round(v) for v in back_torch]


def test_lecture_matrix_is_the_4x16_toeplitz_matrix() -> None:
    layer = make_layer("Conv2d", {"out_channels": 1, "kernel_size": 3}, (1, 1, 4, 4))
    cells = mx.symbolic_cells(mx.geometry(layer))
    assert len(cells) == 4 and len(cells[0]) == 16
    assert cells[0][:6] == ["w00", "w01", "w02", mx.ZERO, "w10", "w11"]
    assert cells[3][-3:] == ["w20", "w21", "w22"]


def test_transposed_matrix_is_the_transpose_of_the_conv_matrix() -> None:
    conv = make_layer("Conv1d", {"out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1}, (1, 1, 7))
    up = make_layer("ConvTranspose1d", {"out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1},
                    conv.out_shape)
    assert mx.symbolic_cells(mx.geometry(up)) == mx.symbolic_cells(mx.geometry(conv), transposed_view=True)


# --------------------------------------------------------------------------------------------------
# explain --shift: translation equivariance
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "shape", "shift", "holds"),
    [
        (["Conv2d(1, 2, 3)"], (1, 1, 12, 12), (1, 2), True),
        (["Conv1d(1, 2, 3, stride=2, padding=1)", "MaxPool1d(2)"], (1, 1, 40), (4,), True),
        (["Conv1d(1, 2, 3, stride=2, padding=1)", "MaxPool1d(2)"], (1, 1, 40), (2,), False),
        (["Conv1d(1, 2, 3, stride=2, padding=1)", "MaxPool1d(2)"], (1, 1, 40), (3,), False),
        (["Conv2d(1, 2, 3, padding=1)", "AvgPool2d(2)"], (1, 1, 16, 16), (1, 0), False),
        (["Conv2d(1, 2, 3, padding=1)", "AvgPool2d(2)"], (1, 1, 16, 16), (-2, 4), True),
        # down by 2 and up by 2: jump 1 again, yet only even shifts survive the strided step
        (["Conv1d(1, 2, 3, stride=2)", "ConvTranspose1d(2, 1, 2, stride=2)"], (1, 1, 30), (1,), False),
        (["Conv1d(1, 2, 3, stride=2)", "ConvTranspose1d(2, 1, 2, stride=2)"], (1, 1, 30), (2,), True),
    ],
)
def test_equivariance_holds_exactly_for_multiples_of_the_period(layers: list[str], shape: tuple[int, ...],
                                                                 shift: tuple[int, ...], holds: bool) -> None:
    analysis = analyze(spec_from_expressions(layers, None), input_shape=shape)
    report = analysis.layers[-1]
    period = ex.period(analysis, report)
    assert all(s % p == 0 for s, p in zip(shift, period)) == holds
    check = ex.check_equivariance(analysis, report, shift)
    assert check.holds == holds
    assert check.broken == (not holds)


def test_equivariance_check_agrees_with_a_plain_torch_shift() -> None:
    # independent of the checker: a stride-1 conv of a shifted signal is the shifted conv (interior)
    torch.manual_seed(1)
    conv = nn.Conv1d(1, 1, 3)
    x = torch.randn(1, 1, 20, dtype=torch.float64)
    conv = conv.double()
    y, ys = conv(x[..., 2:]), conv(x[..., :-2])
    assert torch.allclose(y[..., :-2], ys[..., 2:])


# --------------------------------------------------------------------------------------------------
# compare: counterparts and separability
# --------------------------------------------------------------------------------------------------


def _torch_counts(analysis: Any) -> tuple[int, int, tuple[int, ...]]:
    net = nn.Sequential(*[r.layer.build() for r in analysis.layers])
    with FlopCounterMode(display=False) as counter:
        out = net(torch.zeros(analysis.input_shape))
    return sum(p.numel() for p in net.parameters()), counter.get_total_flops(), tuple(out.shape)


@SETTINGS
@given(st.integers(1, 2), st.sampled_from([4, 8, 12]), st.sampled_from([4, 8, 16]), st.integers(1, 3),
       st.integers(1, 2), st.booleans())
def test_counterparts_match_torch(nd: int, c_in: int, c_out: int, k: int, stride: int, bias: bool) -> None:
    nd += 1  # 2D and 3D: every counterpart applies
    layer = make_layer(f"Conv{nd}d", {"out_channels": c_out, "kernel_size": [k + 1] + [k] * (nd - 1),
                                      "stride": stride, "padding": 1, "bias": bias}, (1, c_in, *([7] * nd)))
    comparison = cmp.counterparts(layer)
    assert comparison.sides[0].params == layer.params()
    for side in comparison.sides:
        params, flops, shape = _torch_counts(side.analysis)
        assert side.params == params and 2 * side.macs == flops
        assert shape == tuple(layer.out_shape) == side.output_shape
    labels = [s.label for s in comparison.sides]
    assert "depthwise separable" in labels
    depthwise = comparison.sides[labels.index("depthwise separable")]
    assert Fraction(depthwise.macs, comparison.sides[0].macs) == Fraction(1, c_out) + Fraction(1, math.prod(
        layer.kernel_size))


def test_two_3x3_convs_see_as_far_as_one_5x5_with_fewer_params() -> None:
    sides = [(text, analyze(spec_from_expressions(ex_list, None), input_shape=(1, 64, 32, 32)))
             for text, ex_list in [("5x5", ["Conv2d(64, 64, 5, padding=2)"]),
                                   ("3x3+3x3", ["Conv2d(64, 64, 3, padding=1)"] * 2)]]
    comparison = cmp.side_by_side(sides)
    big, small = comparison.sides
    assert big.rf == small.rf == [5, 5]
    assert (big.params, small.params) == (_torch_counts(big.analysis)[0], _torch_counts(small.analysis)[0])
    assert small.params < big.params


@SETTINGS
@given(st.lists(st.integers(-9, 9), min_size=1, max_size=5), st.lists(st.integers(-9, 9), min_size=1, max_size=5))
def test_outer_products_are_found_separable_and_factor_exactly(u: list[int], v: list[int]) -> None:
    kernel = [[a * b for b in v] for a in u]
    result = sep.analyse(kernel)
    assert sep.reconstruct(result.terms, result.shape) == sep.as_fractions(kernel)
    assert result.rank == (0 if not any(u) or not any(v) else 1)
    assert sep.verify(result) < 1e-9


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_rank_and_exact_decomposition_of_any_kernel(h: int, w: int, data: Any) -> None:
    kernel = [[data.draw(st.integers(-4, 4)) for _ in range(w)] for _ in range(h)]
    result = sep.analyse(kernel)
    assert result.rank == int(torch.linalg.matrix_rank(torch.tensor(kernel, dtype=torch.float64)))
    assert sep.reconstruct(result.terms, result.shape) == sep.as_fractions(kernel)
    assert sep.verify(result) < 1e-9


def test_lecture_kernel_factors() -> None:
    result = sep.analyse([[3, 6, 9], [4, 8, 12], [5, 10, 15]])
    assert result.separable and result.column == [3, 4, 5] and result.row == [1, 2, 3]


# --------------------------------------------------------------------------------------------------
# the CLI
# --------------------------------------------------------------------------------------------------


def test_cli_transpose_forward_and_target() -> None:
    result = invoke("transpose", "Conv2d(3, 16, 3, stride=2, padding=1)", "--input", "1x3x7x8", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["equivalent_input_sizes"] == [[7, 8], [7, 8]]
    layers = {tuple(r["input"]): r["layer"] for r in data["inverses"]}
    assert layers[(8, 7)] == "ConvTranspose2d(16, 3, 3, stride=2, padding=1, output_padding=(1, 0))"
    module = from_expression(layers[(8, 7)], (1, 16, 4, 4)).build()
    assert torch_out(module, (1, 16, 4, 4)) == (8, 7)

    text = invoke("transpose", "ConvTranspose2d(16, 3, 3, stride=2, padding=1)", "-i", "1x16x4x4", "-t", "8x10")
    assert text.exit_code == 0
    assert "unreachable" in text.stdout and "padding 1 -> 0" in text.stdout

    inline = invoke("transpose", "ConvTranspose2d(16, 3, 3, stride=2, padding=1, output_size=[8, 8])",
                    "-i", "1x16x4x4", "-f", "json")
    assert json.loads(inline.stdout)["output_padding"] == [1, 1]


def test_cli_transpose_target_may_name_a_spec_layer(tmp_path: Any) -> None:
    spec = tmp_path / "u.yaml"
    spec.write_text(_unet(2))
    result = invoke("transpose", str(spec), "--layer", "up1", "--target", "enc1", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["output_padding"] == [1, 1]


def test_cli_explain_pooling_lecture_example() -> None:
    for kind, expected in (("MaxPool2d(2, stride=2)", [[4, 5], [7, 9]]), ("AvgPool2d(2, stride=2)", [[2, 3], [4, 6]])):
        result = invoke("explain", kind, "--values", LECTURE, "-f", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["Values"]["output"] == expected
    text = invoke("explain", "MaxPool2d(2, stride=2)", "--values", LECTURE).stdout
    assert "out[0,0] <- window [[1, 0], [3, 4]] = 4" in text
    x = torch.tensor(json.loads(LECTURE), dtype=torch.float64)[None, None]
    assert F.max_pool2d(x, 2).squeeze().tolist() == [[4, 5], [7, 9]]
    assert F.avg_pool2d(x, 2).squeeze().tolist() == [[2, 3], [4, 6]]


def test_cli_explain_text_matrix_and_shift() -> None:
    result = invoke("explain", "Conv2d(3, 64, 7, stride=2, padding=3)", "--input", "1x3x224x224")
    assert result.exit_code == 0, result.output
    assert "floor((224 + 2*3 - 1*(7-1) - 1)/2) + 1 = 112" in result.stdout
    assert "64*(3/1)*7*7 = 9408" in result.stdout
    matrix = invoke("explain", "Conv2d(1, 1, 3)", "--input", "1x1x4x4", "--matrix", "--weights",
                    "[[1,0,-1],[2,0,-2],[1,0,-1]]")
    assert matrix.exit_code == 0, matrix.output
    assert "y00 [ w00 w01 w02" in matrix.stdout and "MISMATCH" not in matrix.stdout
    assert "inverts the shape, not the numbers" in matrix.stdout
    shift = invoke("explain", "Conv1d(1, 2, 3, stride=2)", "MaxPool1d(2)", "-i", "1x1x40", "--shift", "3", "-f", "json")
    data = json.loads(shift.stdout)["Translation equivariance"]
    assert data["period"] == [4] and data["check"]["broken"]


def test_cli_compare_counterparts_kernel_and_sides() -> None:
    result = invoke("compare", "Conv2d(64, 128, 3, padding=1)", "--input", "1x64x56x56", "-f", "json")
    assert result.exit_code == 0, result.output
    sides = {s["label"]: s for s in json.loads(result.stdout)["sides"]}
    assert sides["original"]["params"] == 64 * 128 * 9 + 128
    assert abs(sides["depthwise separable"]["macs_ratio"] - (1 / 128 + 1 / 9)) < 1e-12
    kernel = invoke("compare", "--kernel", "[[3,6,9],[4,8,12],[5,10,15]]")
    assert "K = [3, 4, 5]^T [1, 2, 3]" in kernel.stdout
    two = invoke("compare", "Conv2d(64, 64, 5, padding=2)",
                 "Conv2d(64, 64, 3, padding=1), Conv2d(64, 64, 3, padding=1)", "-i", "1x64x32x32", "-f", "json")
    assert [s["receptive_field"] for s in json.loads(two.stdout)["sides"]] == [[5, 5], [5, 5]]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["transpose", "Conv2d(3, 8, 3, stride=2)", "-i", "1x3x9x9", "-t", "9"], "solves a ConvTranspose"),
        (["transpose", "Linear(3, 8)", "-i", "1x3"], "convolution and pooling"),
        (["transpose", "ConvTranspose1d(3, 8, 3)", "-i", "1x3x9", "-t", "nowhere"], "no layer named 'nowhere'"),
        (["transpose", "ConvTranspose1d(3, 8, 3)", "-i", "1x3x9", "-t", "0"], "must be positive"),
        (["explain", "Conv3d(1, 1, 3)", "-i", "1x1x4x4x4", "--matrix"], "1D and 2D"),
        (["explain", "Conv2d(1, 1, 3)", "-i", "1x1x20x20", "--matrix"], "small cases"),
        (["explain", "MaxPool2d(2)", "-i", "1x1x4x4", "--matrix"], "not MaxPool2d"),
        (["explain", "MaxPool2d(2)", "-i", "1x1x6x6", "--values", LECTURE], "--values is a 4 x 4 matrix"),
        (["explain", "MaxPool2d(2)", "--values", "[[1, 2], [3]]"], "same, non-zero length"),
        (["explain", "Conv2d(1, 1, 3)", "-i", "1x1x8x8", "--shift", "a"], "--shift must be"),
        (["explain", "Conv2d(1, 1, 3)", "-i", "1x1x8x8", "--layer", "nope"], "no layer named"),
        (["compare"], "nothing to compare"),
        (["compare", "--kernel", "[1, 2, 3]"], "2D matrix"),
        (["compare", "Conv2d(6, 9, 3)", "-i", "1x6x8x8", "--groups", "2"], "must divide"),
        (["compare", "MaxPool2d(2)", "-i", "1x6x8x8"], "counterparts are defined for convolutions"),
    ],
)
def test_bad_input_exits_2_with_a_clean_message(args: list[str], fragment: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_analytic_views_never_import_torch() -> None:
    code = textwrap.dedent("""
        import sys
        from typer.testing import CliRunner
        from convcalc.cli import app
        runner = CliRunner()
        for args in (["transpose", "Conv2d(3, 8, 3, stride=2)", "-i", "1x3x9x9"],
                     ["explain", "Conv2d(3, 8, 3, stride=2)", "-i", "1x3x9x9"],
                     ["compare", "Conv2d(8, 16, 3)", "-i", "1x8x9x9"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
        print("torch" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
