"""The tensor operations and ConvNeXt's pieces (convcalc/layers/tensor.py) proven against PyTorch.

For random shapes and arguments, invalid ones included, with the harness of tests/test_layers_torch.py:
convcalc raises SpecError iff torch raises (with torch's own message, for the torch functions), and
otherwise shapes, params and buffers equal those of the twins in tests/torch_twins.py (plain torch,
written independently of convcalc) and of convcalc's own build(); fvcore_flops and torch_flops equal real
FlopCountAnalysis and FlopCounterMode on the built module. Then receptive fields by gradient where these
layers move or cut the spatial axes (ConvNeXt's channels-last block, Narrow, Transpose and Permute round
trips with convolutions between, Reshape, Mean), ConvNeXt's layer-scale state_dict key, and
StochasticDepth's training behaviour.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from test_layers_torch import (
    _run,
    analyse,
    any_rank_shape,
    assert_flops_match,
    check_layer,
    fast,
    input_shape,
    merge_cases,
    quiet_build,
    torch_outcome,
)
from test_receptive_field import _field_extent
from torch import nn

import convcalc
from convcalc.analysis.core import Analysis
from convcalc.errors import SpecError
from convcalc.layers import lookup
from convcalc.torch_backend import validate

import torch_twins as twins


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# (type, torch kwargs, spec args, input shape, the twin's maker)
Case = tuple[str, dict[str, Any], dict[str, Any], tuple[int, ...], Callable[[], nn.Module]]


def _case(kind: str, kwargs: dict[str, Any], shape: tuple[int, ...], spec: dict[str, Any] | None = None,
          make: Callable[[], nn.Module] | None = None) -> Case:
    return kind, kwargs, dict(kwargs) if spec is None else spec, shape, make or (lambda: twins.TWINS[kind](**kwargs))


@st.composite
def narrow_cases(draw: Any) -> Case:
    shape = draw(any_rank_shape(0, 3, 5))
    rank = len(shape)
    dim = draw(st.integers(-rank - 1, rank))
    size = shape[dim] if -rank <= dim < rank else 3
    return _case("Narrow", {"dim": dim, "start": draw(st.integers(-size - 1, size + 1)),
                            "length": draw(st.integers(-1, size + 1))}, shape)


@st.composite
def permute_cases(draw: Any) -> Case:
    shape = draw(any_rank_shape(0, 3, 4))
    rank = len(shape)
    dims = list(draw(st.permutations(range(rank))))
    # (hypothesis draws the edges of a float range often: the variants are sampled instead)
    variant = draw(st.sampled_from(["as is", "as is", "negative", "negative", "short", "long", "twice",
                                    "out of range"]))
    if variant == "short":
        dims = dims[:-1]
    elif variant == "long":
        dims = dims + [0]
    elif variant == "twice":
        dims[-1] = dims[0] - rank
    elif variant == "out of range":
        dims[draw(st.integers(0, rank - 1))] = draw(st.sampled_from([rank, -rank - 1]))
    elif variant == "negative":
        dims = [d - rank if draw(st.booleans()) else d for d in dims]
    return _case("Permute", {"dims": dims}, shape)


@st.composite
def transpose_cases(draw: Any) -> Case:
    shape = draw(any_rank_shape(0, 3, 4))
    rank = len(shape)
    return _case("Transpose", {"dim0": draw(st.integers(-rank - 1, rank)), "dim1": draw(st.integers(-rank - 1, rank))},
                 shape)


@st.composite
def reshape_cases(draw: Any) -> Case:
    shape = draw(any_rank_shape(0, 3, 4))
    rest, sizes = math.prod(shape), []
    for _ in range(draw(st.integers(0, 4))):
        factor = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
        sizes.append(factor)
        rest //= factor
    sizes = list(draw(st.permutations(sizes + [rest])))
    variant = draw(st.sampled_from(["as is", "as is", "infer", "infer", "infer", "identity", "two -1",
                                    "too many", "negative", "extra"]))
    if variant == "infer":
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    elif variant == "two -1" and len(sizes) > 1:
        sizes[:2] = [-1, -1]
    elif variant == "too many":
        sizes[0] += 1
    elif variant == "negative":
        sizes[-1] = -2
    elif variant == "extra":
        sizes.append(draw(st.sampled_from([0, -1])))
    elif variant == "identity":
        sizes = list(shape)
    return _case("Reshape", {"shape": sizes}, shape)


@st.composite
def mean_cases(draw: Any) -> Case:
    shape = draw(any_rank_shape(0, 3, 4))
    rank = len(shape)
    dims = st.integers(-rank - 1, rank)
    dim: Any = draw(st.one_of(dims, st.lists(dims, min_size=0, max_size=3), st.none()))
    return _case("Mean", {"dim": dim, "keepdim": draw(st.booleans())}, shape)


@st.composite
def layer_norm_2d_cases(draw: Any) -> Case:
    shape = draw(input_shape(draw(st.sampled_from([2, 2, 2, 1, 3, 0])), max_size=4))
    channels = shape[1]
    given = draw(st.sampled_from([channels] * 6 + [channels + 1, 0, -1]))
    kwargs = {"num_channels": given, "eps": draw(st.sampled_from([1e-5, 1e-6])),
              "elementwise_affine": draw(st.booleans()), "bias": draw(st.booleans())}
    spec = dict(kwargs)
    if given == channels and draw(st.booleans()):
        del spec["num_channels"]
    return _case("LayerNorm2d", kwargs, shape, spec)


@st.composite
def scale_cases(draw: Any) -> Case:
    shape = draw(any_rank_shape(0, 3, 4))
    channels = shape[1]
    given = draw(st.sampled_from([channels] * 4 + [1, channels + 1, 0, -1]))
    kwargs = {"num_features": given, "init_value": draw(st.sampled_from([1.0, 1e-6, -0.5]))}
    spec = dict(kwargs)
    if given == channels and draw(st.booleans()):
        del spec["num_features"]
    return _case("Scale", kwargs, shape, spec, lambda: twins.LayerScale(**kwargs, rank=len(shape)))


@st.composite
def stochastic_depth_cases(draw: Any) -> Case:
    shape = draw(any_rank_shape(0, 3, 4))
    kwargs = {"p": draw(st.sampled_from([0.0, 0.2, 0.5, 1.0, -0.1, 1.5, float("nan")])),
              "mode": draw(st.sampled_from(["row", "batch"]))}
    return _case("StochasticDepth", kwargs, shape)


TENSOR_FAMILIES: dict[str, Callable[[], st.SearchStrategy[Case]]] = {
    "narrow": narrow_cases, "permute": permute_cases, "transpose": transpose_cases, "reshape": reshape_cases,
    "mean": mean_cases, "layer_norm_2d": layer_norm_2d_cases, "scale": scale_cases,
    "stochastic_depth": stochastic_depth_cases,
}
# the layers whose errors are torch's own (the others: convcalc's choice of words, or torchvision's)
TORCH_MESSAGES = {"Narrow", "Permute", "Transpose", "Reshape", "Mean", "LayerNorm2d"}


@pytest.mark.parametrize("family", sorted(TENSOR_FAMILIES))
@fast(150)
@given(data=st.data())
def test_tensor_layer_matches_torch(family: str, data: Any) -> None:
    kind, kwargs, spec_args, shape, make = data.draw(TENSOR_FAMILIES[family]())
    result = check_layer(kind, kwargs, shape, spec_args, make=make)
    if isinstance(result, SpecError):
        error, _ = torch_outcome(make, [shape])
        if kind in TORCH_MESSAGES:
            assert str(error).splitlines()[0] in result.message, (result.message, error)
        return
    report = result.layers[0]
    assert report.layer.flops_rule
    assert_flops_match(result, quiet_build(report), shape)


# --------------------------------------------------------------------------------------------------
# Mul, Sub, Div: Add's broadcasting, on branches of chosen shapes (test_layers_torch.merge_cases)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Mul", "Sub", "Div"])
@fast(80)
@given(data=st.data())
def test_arithmetic_matches_torch(kind: str, data: Any) -> None:
    spec, make, shape = data.draw(merge_cases(kind))
    result = analyse(spec)
    outcome, module = torch_outcome(make, [shape])
    context = f"{spec}: convcalc -> {result}, torch -> {outcome!r}"
    assert isinstance(result, SpecError) == (module is None), context
    if isinstance(result, SpecError):
        return
    assert result.output_shape == outcome, context
    report = result.layers[-1]
    assert (report.params, report.buffers, report.macs) == (0, 0, 0)
    assert report.flops == (len(report.inputs) - 1) * math.prod(report.output_shape)
    net = convcalc.build(result)
    assert tuple(_run(net, torch.randn(*shape)).shape) == outcome
    assert_flops_match(result, module, shape)  # the hand-built twin
    assert_flops_match(result, net, shape)  # and convcalc's own wiring


@pytest.mark.parametrize("kind", ["Sub", "Div"])
def test_sub_and_div_take_exactly_two_inputs(kind: str) -> None:
    spec = {"input": [1, 2, 4, 4], "layers": [{"type": kind, "inputs": ["input", "input", "input"]}]}
    with pytest.raises(SpecError, match=f"{kind} takes 2 inputs, got 3"):
        convcalc.analyze(spec)


def test_a_full_reduction_leaves_a_scalar_that_torch_ops_treat_as_torch_does() -> None:
    # a 0-dim tensor: torch.narrow refuses it; permute([]), transpose(0, -1), mean and reshape accept it
    mean_all = {"type": "Mean", "dim": []}
    with pytest.raises(SpecError, match="narrow\\(\\) cannot be applied to a 0-dim tensor"):
        convcalc.analyze({"input": [2, 3, 4], "layers": [
            mean_all, {"type": "Narrow", "dim": 0, "start": 0, "length": 1}]})
    after = [({"type": "Permute", "dims": []}, ()), ({"type": "Transpose", "dim0": 0, "dim1": -1}, ()),
             ({"type": "Mean", "dim": -1, "keepdim": True}, ()), ({"type": "Reshape", "shape": [1, 1]}, (1, 1))]
    for layer, out in after:
        result = convcalc.analyze({"input": [2, 3, 4], "layers": [mean_all, layer]})
        assert result.output_shape == out == tuple(_run(convcalc.build(result), torch.randn(2, 3, 4)).shape)


def test_slice_and_view_are_aliases() -> None:
    assert lookup("Slice") is lookup("Narrow") and lookup("View") is lookup("Reshape")
    result = convcalc.analyze({"input": [2, 4, 7, 7], "layers": [{"type": "View", "shape": [-1, 4, 2, 7, 7]}]})
    assert result.output_shape == (1, 4, 2, 7, 7)


# --------------------------------------------------------------------------------------------------
# ConvNeXt: the layer scale's state_dict key, LayerNorm2d as torchvision's, StochasticDepth in training
# --------------------------------------------------------------------------------------------------


def test_layer_scale_is_named_by_the_layer_in_the_state_dict() -> None:
    spec = {"input": [1, 4, 6, 6], "layers": [
        {"name": "blk.dwconv", "type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1, "groups": 4},
        {"name": "blk.layer_scale", "type": "Scale", "init_value": 1e-6}]}
    net = convcalc.build(spec)
    state = net.state_dict()
    assert list(state) == ["blk.dwconv.weight", "blk.dwconv.bias", "blk.layer_scale"]  # torchvision's keys
    assert state["blk.layer_scale"].shape == (4, 1, 1)
    assert torch.all(state["blk.layer_scale"] == 1e-6)
    values = {key: torch.randn_like(value) for key, value in state.items()}
    assert not net.load_state_dict(values, strict=True).missing_keys
    assert all(torch.equal(net.state_dict()[key], value) for key, value in values.items())
    assert torch.equal(net.layer("blk.layer_scale").weight, values["blk.layer_scale"])
    with pytest.raises(RuntimeError, match="Missing key"):
        net.load_state_dict({k: v for k, v in values.items() if k != "blk.layer_scale"}, strict=True)
    # inside a larger module, under a prefix
    outer = nn.Sequential()
    outer.add_module("backbone", net)
    assert "backbone.blk.layer_scale" in outer.state_dict()
    outer.load_state_dict(outer.state_dict(), strict=True)
    # and torchvision's own block structure loads into it
    block = nn.Module()
    block.dwconv = nn.Conv2d(4, 4, 3, padding=1, groups=4)
    block.layer_scale = nn.Parameter(torch.randn(4, 1, 1))
    twin = nn.Module()
    twin.blk = block
    net.load_state_dict(twin.state_dict(), strict=True)
    x = torch.randn(1, 4, 6, 6)
    assert torch.allclose(_run(net, x), block.layer_scale * block.dwconv(x))


def test_layer_norm_2d_equals_torchvisions() -> None:
    spec = {"input": [2, 6, 5, 4], "layers": [{"type": "LayerNorm2d", "eps": 1e-6}]}
    result = convcalc.analyze(spec)
    net = convcalc.build(result)
    twin = twins.LayerNorm2d(6, eps=1e-6)
    twin.load_state_dict({k.removeprefix("layernorm2d_1."): v for k, v in net.state_dict().items()}, strict=True)
    x = torch.randn(2, 6, 5, 4)
    assert torch.allclose(_run(net, x), _run(twin, x))
    assert_flops_match(result, twin, (2, 6, 5, 4))  # fvcore sees aten::layer_norm, as for torchvision's


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.4, 1.0])
def test_stochastic_depth_in_training_is_torchvisions(mode: str, p: float) -> None:
    result = convcalc.analyze({"input": [8, 3, 4, 4], "layers": [{"type": "StochasticDepth", "p": p, "mode": mode}]})
    module = result.layers[0].layer.build().train()
    twin = twins.StochasticDepth(p, mode).train()
    x = torch.randn(8, 3, 4, 4)
    torch.manual_seed(0)
    ours = module(x)
    torch.manual_seed(0)
    assert torch.equal(ours, twin(x))
    assert torch.equal(module.eval()(x), x)
    kept = (ours != 0).flatten(1).any(dim=1)
    if mode == "batch":
        assert kept.all() or not kept.any()
    if p < 1.0:
        assert torch.allclose(ours[kept], x[kept] / (1 - p))


# --------------------------------------------------------------------------------------------------
# Receptive fields when the spatial axes move: analytic against gradients
# --------------------------------------------------------------------------------------------------


def _block_spec(channels: int, size: int) -> dict[str, Any]:
    return {"input": [1, channels, size, size], "layers": [
        {"name": "dwconv", "type": "Conv2d", "out_channels": channels, "kernel_size": 7, "padding": 3,
         "groups": channels},
        {"name": "to_last", "type": "Permute", "dims": [0, 2, 3, 1]},
        {"name": "norm", "type": "LayerNorm", "normalized_shape": channels, "eps": 1e-6},
        {"name": "pwconv1", "type": "Linear", "out_features": 4 * channels},
        {"name": "act", "type": "GELU"},
        {"name": "pwconv2", "type": "Linear", "out_features": channels},
        {"name": "to_first", "type": "Permute", "dims": [0, 3, 1, 2]},
    ]}


def test_convnext_block_keeps_the_depthwise_field() -> None:
    # after Permute(0, 2, 3, 1) the last dim is C: LayerNorm and Linear over it must leave H and W local
    channels, size = 4, 24
    result = convcalc.analyze(_block_spec(channels, size))
    for report in result.layers:
        assert report.receptive_field.size == [7, 7] and report.receptive_field.jump == [1, 1], report.name
    assert [a.dim for a in result.layer("norm").receptive_field.axes] == [-3, -2]
    assert all(a.dim is None for a in result.layers[-1].receptive_field.axes)  # the default layout again
    # the gradient probe agrees at every layer of the block
    report = validate(result, rf=True, rf_layers="all", fvcore=False)
    assert report.ok, "\n".join(report.diff())
    sizes = {c.layer: c for c in report.checks if c.check == "receptive_field.size"}
    assert set(sizes) == {r.name for r in result.layers} and all(c.status == "ok" for c in sizes.values())
    # and so does a hand-written twin of torchvision's block (positive weights, float64)
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(channels, channels, 7, padding=3, groups=channels),
                          twins.permute([0, 2, 3, 1]), nn.LayerNorm(channels, eps=1e-6),
                          nn.Linear(channels, 4 * channels), nn.GELU(), nn.Linear(4 * channels, channels),
                          twins.permute([0, 3, 1, 2])).double()
    with torch.no_grad():
        for param in block.parameters():
            param.uniform_(0.5, 1.0)
    x = (torch.rand(1, channels, size, size, dtype=torch.float64) + 0.5).requires_grad_(True)
    y = block(x)
    axes = result.layers[-1].receptive_field.axes
    for where in ((12, 12), (12, 13), (9, 15)):
        (grad,) = torch.autograd.grad(y[(0, slice(None), *where)].sum(), x, retain_graph=True)
        for axis, a in enumerate(axes):
            lo, hi = _field_extent(grad[0].abs().sum(dim=0), axis)
            assert (lo, hi) == a.field(where[axis]), (axis, where, lo, hi)


@st.composite
def layout_stacks(draw: Any) -> dict[str, Any]:
    """A conv, then one pattern that moves, cuts or reduces spatial dims (and convolves in between),
    then maybe a last conv: every layer's field is checked by the gradient probe."""
    c = 4
    size = [draw(st.integers(12, 18)), draw(st.integers(12, 18))]
    k = draw(st.lists(st.integers(1, 4), min_size=2, max_size=2))
    layers: list[dict[str, Any]] = [{"type": "Conv2d", "out_channels": c, "kernel_size": k,
                                     "stride": draw(st.sampled_from([1, 1, 2]))}]
    pattern = draw(st.sampled_from(["narrow", "transpose", "permute", "reshape", "mean"]))
    asym = draw(st.lists(st.integers(1, 3), min_size=2, max_size=2))
    if pattern == "narrow":
        dim = draw(st.sampled_from([2, 3, -1, -2]))
        layers.append({"type": "Narrow", "dim": dim, "start": draw(st.integers(-4, 3)), "length": 3})
    elif pattern == "transpose":
        layers += [{"type": "Transpose", "dim0": 2, "dim1": -1},
                   {"type": "Conv2d", "out_channels": c, "kernel_size": asym, "stride": [1, 2]},
                   {"type": "MaxPool2d", "kernel_size": [2, 1]},
                   {"type": "Transpose", "dim0": -1, "dim1": 2}]
    elif pattern == "permute":
        layers += [{"type": "Permute", "dims": [0, 2, 3, 1]}, {"type": "LayerNorm", "normalized_shape": c},
                   {"type": "Linear", "out_features": c}, {"type": "Softmax", "dim": -1},
                   {"type": "Permute", "dims": [0, 3, 1, 2]},
                   {"type": "Conv2d", "out_channels": c, "kernel_size": asym}]
    elif pattern == "reshape":  # ShuffleNet's shuffle, by hand: split the channels, swap, merge back
        layers += [{"type": "Reshape", "shape": [-1, 2, c // 2, 0, 0]}, {"type": "Transpose", "dim0": 1, "dim1": 2},
                   {"type": "Reshape", "shape": [-1, c, 0, 0]},
                   {"type": "Conv2d", "out_channels": c, "kernel_size": asym}]
    else:
        keep = draw(st.booleans())
        layers += [{"type": "Mean", "dim": 2, "keepdim": keep},
                   {"type": f"Conv{2 if keep else 1}d", "out_channels": c,
                    "kernel_size": [1, asym[1]] if keep else asym[1]}]
    if draw(st.booleans()) and pattern != "mean":
        layers.append({"type": "Conv2d", "out_channels": 2, "kernel_size": 3})
    spec = {"input": [1, 2, *size], "layers": layers}
    if pattern == "reshape":  # the spatial sizes, which the Reshape spells out (0 is not torch's "keep")
        shapes = convcalc.analyze({"input": spec["input"], "layers": layers[:1]}).output_shape[2:]
        for layer in layers:
            if layer["type"] == "Reshape":
                layer["shape"] = [*layer["shape"][:-2], *shapes]
    return spec


@fast(40)
@given(spec=layout_stacks())
def test_fields_through_moved_axes_match_gradients(spec: dict[str, Any]) -> None:
    try:
        result = convcalc.analyze(spec)
    except SpecError:
        assume(False)
        raise
    report = validate(result, rf=True, rf_layers="all", fvcore=False)
    assert report.ok, "\n".join(report.diff())
    checked = [c for c in report.checks if c.check == "receptive_field.size" and c.status == "ok"]
    assert checked and checked[-1].layer == result.layers[-1].name, [c.to_dict() for c in report.checks]


def test_the_probe_catches_a_layer_that_loses_track_of_an_axis(monkeypatch: pytest.MonkeyPatch) -> None:
    # a Transpose that forgot to move the axes would send the conv's tall kernel along the wrong axis
    spec = {"input": [1, 2, 16, 16], "layers": [
        {"type": "Transpose", "dim0": 2, "dim1": 3},
        {"type": "Conv2d", "out_channels": 2, "kernel_size": [5, 1]}]}
    assert convcalc.analyze(spec).layers[-1].receptive_field.size == [1, 5]
    assert validate(spec, rf=True, rf_layers="all", fvcore=False).ok
    monkeypatch.setattr(lookup("Transpose"), "rf", lambda self, in_rfs: in_rfs[0])
    report = validate(spec, rf=True, rf_layers="all", fvcore=False)
    assert [(c.layer, c.check) for c in report.failures] == [("conv2d_1", "receptive_field.size")]


def test_a_spatial_dim_standing_where_a_conv_sees_channels_makes_the_field_global() -> None:
    # channels-last into a Conv2d: H is its channel dim (mixed whole), W and C its spatial dims
    result = convcalc.analyze({"input": [1, 3, 8, 8], "layers": [
        {"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
        {"type": "Permute", "dims": [0, 2, 3, 1]},
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 1}]})
    axes = result.layers[-1].receptive_field.axes
    assert [a.jump for a in axes] == [None, None] and not any(a.exact for a in axes)
    assert validate(result, rf=True, rf_layers="all", fvcore=False).ok


def test_mul_of_differently_laid_out_maps_is_global_along_both() -> None:
    # x * x^T: output (i, j) reads x at (i, j) and at (j, i)
    spec = {"input": [1, 1, 9, 9], "layers": [
        {"name": "conv", "type": "Conv2d", "out_channels": 1, "kernel_size": 3, "padding": 1},
        {"name": "t", "type": "Transpose", "dim0": 2, "dim1": 3},
        {"type": "Mul", "inputs": ["conv", "t"]}]}
    result = convcalc.analyze(spec)
    assert result.layers[-1].receptive_field.jump == [None, None]
    assert validate(result, rf=True, rf_layers="all", fvcore=False).ok


def test_narrow_shifts_the_field_by_start() -> None:
    result = convcalc.analyze({"input": [1, 1, 20, 20], "layers": [
        {"type": "Conv2d", "out_channels": 1, "kernel_size": 3},
        {"type": "Narrow", "dim": -1, "start": -10, "length": 4},
        {"type": "Slice", "dim": 1, "start": 0, "length": 1}]})
    rf = result.layers[-1].receptive_field
    assert rf.size == [3, 3] and rf.start == [1, 9]  # 18 columns; column 8 is centred at input 9


def test_mean_globalises_only_the_reduced_axes() -> None:
    result = convcalc.analyze({"input": [1, 2, 10, 12], "layers": [
        {"type": "Conv2d", "out_channels": 2, "kernel_size": 3},
        {"type": "Mean", "dim": -2},
        {"type": "Conv1d", "out_channels": 2, "kernel_size": 5}]})
    mean, conv = (r.receptive_field for r in result.layers[1:])
    assert mean.jump == [None, 1] and mean.size == [10, 3]
    assert conv.jump == [None, 1] and conv.size == [10, 7]
    report = validate(result, rf=True, rf_layers="all", fvcore=False)
    assert report.ok and report.counts["ok"] > 0


def test_default_layout_fields_are_unchanged_by_a_round_trip() -> None:
    base = [{"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "stride": 2},
            {"type": "ConvTranspose2d", "out_channels": 3, "kernel_size": 3, "stride": 2}]
    trip = [{"type": "Permute", "dims": [0, 3, 2, 1]}, {"type": "Transpose", "dim0": 1, "dim1": 2},
            {"type": "Reshape", "shape": [0, 0, 0, 0]}, {"type": "Permute", "dims": [0, 3, 1, 2]}]
    plain = convcalc.analyze({"input": [1, 3, 12, 13], "layers": base})
    shape = plain.output_shape
    trip[2]["shape"] = [shape[0], shape[2], shape[3], shape[1]]  # [N, H, W, C] as it is
    tripped = convcalc.analyze({"input": [1, 3, 12, 13], "layers": base + copy.deepcopy(trip)})
    assert tripped.output_shape == shape
    assert tripped.layers[-1].receptive_field.axes == plain.layers[-1].receptive_field.axes


def test_counting_conventions() -> None:
    # Mean over H and W is a global average pool: it counts as AdaptiveAvgPool2d(1) does
    shape = [2, 3, 5, 7]
    mean = convcalc.analyze({"input": shape, "layers": [{"type": "Mean", "dim": [-1, -2], "keepdim": True}]})
    pool = convcalc.analyze({"input": shape, "layers": [{"type": "AdaptiveAvgPool2d", "output_size": 1}]})
    assert mean.output_shape == pool.output_shape
    assert mean.layers[0].flops == pool.layers[0].flops == 2 * 3 * 5 * 7 + 2 * 3
    scale = convcalc.analyze({"input": shape, "layers": [{"type": "Scale"}]}).layers[0]
    assert (scale.params, scale.flops, scale.macs) == (3, 2 * 3 * 5 * 7, 0)
    depth = convcalc.analyze({"input": shape, "layers": [{"type": "StochasticDepth", "p": 0.5}]}).layers[0]
    assert (depth.params, depth.flops) == (0, 0)
