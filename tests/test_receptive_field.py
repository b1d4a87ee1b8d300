"""Receptive fields measured by gradients in PyTorch, against convcalc's analytic size, jump and start.

Random stacks of convolutions and pools (1D and 2D, with strides, dilation, padding, ceil mode and
zero padding layers) are built twice: as a spec for convcalc, and in torch with every weight a positive
constant and no bias (a max pool becomes a constant-weight convolution of the same geometry, an average
pool stays one). The gradient of one output position with respect to the input is then positive
exactly at the inputs that position reads. For an output well inside the map:
  * the extent of the nonzero gradient (last - first + 1) equals the analytic `size`,
  * its centre equals start + index * jump,
  * and the next output's field is the same extent shifted by `jump`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

import convcalc

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                    database=None)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _ones_conv(nd: int, k: list[int], s: list[int], p: list[int], d: list[int]) -> nn.Module:
    conv = getattr(nn, f"Conv{nd}d")(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
    nn.init.constant_(conv.weight, 0.5)
    return conv


@st.composite
def stacks(draw: Any, nd: int) -> tuple[list[dict[str, Any]], list[nn.Module]]:
    """(spec layers, torch twins) for a random stack of windows, single channel throughout."""
    depth = draw(st.integers(1, 4 if nd == 1 else 3))
    specs: list[dict[str, Any]] = []
    twins: list[nn.Module] = []
    budget = 24 if nd == 1 else 8  # keep the product of strides, and so the input, small
    for _ in range(depth):
        kind = draw(st.sampled_from(["conv", "conv", "max", "avg", "pad"]))
        k = draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))
        s = [min(draw(st.integers(1, 3)), max(1, budget)) for _ in range(nd)]
        budget //= max(s)
        if kind == "pad":
            pads = draw(st.lists(st.integers(0, 3), min_size=2 * nd, max_size=2 * nd))
            specs.append({"type": f"ZeroPad{nd}d", "padding": pads})
            twins.append(getattr(nn, f"ZeroPad{nd}d")(tuple(pads)))
            continue
        if kind == "avg":
            p = [draw(st.integers(0, ki // 2)) for ki in k]
            ceil = draw(st.booleans())
            specs.append({"type": f"AvgPool{nd}d", "kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil})
            twins.append(getattr(nn, f"AvgPool{nd}d")(k, s, p, ceil_mode=ceil))
            continue
        d = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
        if kind == "max":
            p = [draw(st.integers(0, ki // 2)) for ki in k]
            specs.append({"type": f"MaxPool{nd}d", "kernel_size": k, "stride": s, "padding": p, "dilation": d})
        else:
            p = [draw(st.integers(0, 3)) for _ in k]
            specs.append({"type": f"Conv{nd}d", "out_channels": 1, "kernel_size": k, "stride": s, "padding": p,
                          "dilation": d, "bias": False})
        twins.append(_ones_conv(nd, k, s, p, d))  # a max pool's field is its window's: a constant conv
    return specs, twins


def _field_extent(grad: torch.Tensor, axis: int) -> tuple[int, int]:
    other = tuple(i for i in range(grad.dim()) if i != axis)
    hit = (grad.abs().amax(dim=other) if other else grad.abs()) > 0
    where = torch.nonzero(hit).flatten().tolist()
    return where[0], where[-1]


def _check_stack(nd: int, specs: list[dict[str, Any]], twins: list[nn.Module]) -> None:
    # the field does not depend on the input size: size the input from a first analysis
    probe = convcalc.analyze({"input": [1, 1] + [4096 if nd == 1 else 512] * nd, "layers": specs})
    rf = probe.layers[-1].receptive_field
    sizes = [int(math.ceil(v)) for v in rf.size]
    jumps = [int(math.ceil(v)) for v in rf.jump]
    spatial = [2 * size + 6 * jump + 8 for size, jump in zip(sizes, jumps)]
    assume(math.prod(spatial) <= 40_000)
    result = convcalc.analyze({"input": [1, 1, *spatial], "layers": specs})
    field = result.layers[-1].receptive_field.axes
    out_spatial = result.output_shape[2:]
    index = [o // 2 for o in out_spatial]
    assume(all(o >= 3 for o in out_spatial))

    net = nn.Sequential(*twins).double()
    x = torch.zeros(1, 1, *spatial, dtype=torch.float64, requires_grad=True)
    y = net(x)
    assert tuple(y.shape) == result.output_shape
    for shift in (0, 1):
        where = [i + (shift if axis == 0 else 0) for axis, i in enumerate(index)]
        x.grad = None
        y[(0, 0, *where)].backward(retain_graph=True)
        assert x.grad is not None
        for axis, a in enumerate(field):
            lo, hi = _field_extent(x.grad[0, 0], axis)
            centre = a.start + where[axis] * a.jump
            first, last = centre - (a.size - 1) / 2, centre + (a.size - 1) / 2
            if first < 0 or last > spatial[axis] - 1:
                continue  # the field reaches the border (its padding): the gradient cannot show all of it
            context = f"{specs} on {spatial}: axis {axis}, output {where}, analytic {a}, measured [{lo}, {hi}]"
            assert hi - lo + 1 == a.size, context
            assert Fraction(lo + hi, 2) == centre, context


@pytest.mark.parametrize("nd", [1, 2])
@SETTINGS
@given(data=st.data())
def test_gradient_field_matches_analysis(nd: int, data: Any) -> None:
    specs, twins = data.draw(stacks(nd))
    analysed = convcalc.analyze({"input": [1, 1] + [4096 if nd == 1 else 512] * nd, "layers": specs})
    assume(all(r.output_shape[2:] and min(r.output_shape[2:]) > 0 for r in analysed.layers))
    _check_stack(nd, specs, twins)


def test_known_fields() -> None:
    # VGG-style: two 3x3 convs then a 2x2 pool -> 6x6 field, jump 2; a dilated 3x3 (d=2) adds 4 * jump
    result = convcalc.analyze({"input": [1, 1, 64, 64], "layers": [
        {"type": "Conv2d", "out_channels": 1, "kernel_size": 3, "padding": 1},
        {"type": "Conv2d", "out_channels": 1, "kernel_size": 3, "padding": 1},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Conv2d", "out_channels": 1, "kernel_size": 3, "dilation": 2, "padding": 2},
    ]})
    rf = [r.receptive_field for r in result.layers]
    assert [f.size for f in rf] == [[3, 3], [5, 5], [6, 6], [14, 14]]
    assert [f.jump for f in rf] == [[1, 1], [1, 1], [2, 2], [2, 2]]
    assert rf[2].start == [0.5, 0.5]


def test_global_layers_make_the_field_global() -> None:
    result = convcalc.analyze({"input": [1, 2, 16, 16], "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
        {"type": "AdaptiveAvgPool2d", "output_size": 1}, {"type": "Flatten"},
        {"type": "Linear", "out_features": 3},
    ]})
    assert result.layers[1].receptive_field.jump == [None, None]
    assert result.layers[-1].receptive_field.jump == [None, None]
    # every input position is read: the field covers the whole input
    assert result.layers[-1].receptive_field.size == [16, 16]


def test_merges_take_the_union_and_crop_shifts() -> None:
    result = convcalc.analyze({"input": [1, 1, 32, 32], "layers": [
        {"name": "a", "type": "Conv2d", "out_channels": 1, "kernel_size": 3},
        {"name": "b", "type": "Conv2d", "out_channels": 1, "kernel_size": 7, "inputs": "input"},
        {"name": "c", "type": "Crop", "inputs": ["a", "b"]},
        {"type": "Add", "inputs": ["c", "b"]},
    ]})
    crop, add = result.layers[2].receptive_field, result.layers[3].receptive_field
    assert crop.size == [3, 3] and crop.start == [3, 3]  # a's field, shifted by the offset (30 - 26) // 2
    assert add.size == [7, 7] and add.start == [3, 3]


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_jump_scales(mode: str) -> None:
    result = convcalc.analyze({"input": [1, 1, 16, 16], "layers": [
        {"type": "Conv2d", "out_channels": 1, "kernel_size": 3, "stride": 2},
        {"type": "Upsample", "scale_factor": 2, "mode": mode},
    ]})
    rf = result.layers[-1].receptive_field
    assert rf.jump == [1, 1]
    assert rf.size == ([3, 3] if mode == "nearest" else [5, 5])


# --------------------------------------------------------------------------------------------------
# Upsampling paths: transposed convs, nearest upsampling and merges with skip branches. There the
# fields of neighbouring outputs differ (they repeat with a period), and each probed output's nonzero
# gradient must span exactly its analytic `field(o)`.
# --------------------------------------------------------------------------------------------------


@st.composite
def _window(draw: Any, nd: int, channels: int, strided: bool) -> tuple[dict[str, Any], Any]:
    k = draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))
    s = [draw(st.integers(2 if strided else 1, 2 if strided else 1)) for _ in range(nd)]
    d = draw(st.lists(st.integers(1, 2), min_size=nd, max_size=nd))
    p = [draw(st.integers(0, 2)) for _ in range(nd)]
    spec = {"type": f"Conv{nd}d", "out_channels": 1, "kernel_size": k, "stride": s, "padding": p,
            "dilation": d, "bias": False}
    conv = getattr(nn, f"Conv{nd}d")(channels, 1, k, stride=s, padding=p, dilation=d, bias=False)
    nn.init.constant_(conv.weight, 0.5)
    return spec, conv


@st.composite
def _upsampler(draw: Any, nd: int, same_grid: bool) -> tuple[dict[str, Any], Any]:
    # same_grid: scale by 2, undoing one strided window, so that a merge joins maps on one grid
    if draw(st.integers(0, 3)) == 0:
        mode = draw(st.sampled_from(["nearest", "nearest-exact"]))
        return ({"type": "Upsample", "scale_factor": 2, "mode": mode},
                nn.Upsample(scale_factor=2, mode=mode))
    k = draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))
    s = draw(st.lists(st.integers(2, 2 if same_grid else 3), min_size=nd, max_size=nd))
    d = draw(st.lists(st.integers(1, 2), min_size=nd, max_size=nd))
    p = [draw(st.integers(0, (di * (ki - 1)) // 2)) for ki, di in zip(k, d)]
    op = [draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d)]
    spec = {"type": f"ConvTranspose{nd}d", "out_channels": 1, "kernel_size": k, "stride": s, "padding": p,
            "dilation": d, "output_padding": op, "bias": False}
    conv = getattr(nn, f"ConvTranspose{nd}d")(1, 1, k, stride=s, padding=p, output_padding=op, dilation=d,
                                              bias=False)
    nn.init.constant_(conv.weight, 0.5)
    return spec, conv


def _crop(x: torch.Tensor, target: Sequence[int]) -> torch.Tensor:
    for dim, (n, t) in enumerate(zip(x.shape[2:], target)):
        x = x.narrow(dim + 2, (n - t) // 2, t)
    return x


@st.composite
def unet_like(draw: Any, nd: int) -> tuple[Any, Any]:
    """(spec layers for an input size, torch function) for: skip = windows(x); up = upsamplers(strided
    windows(skip)); then maybe a merge (Add or Concat) of both, each centre-cropped to the smaller size,
    and maybe a last conv."""
    skip_steps = [draw(_window(nd, 1, strided=False)) for _ in range(draw(st.integers(0, 1)))]
    merge = draw(st.sampled_from(["Add", "Concat", "none"]))
    downs = draw(st.integers(1, 2))
    path_steps = [draw(_window(nd, 1, strided=True)) for _ in range(downs)]
    ups = downs if merge != "none" else draw(st.integers(1, 2))
    path_steps += [draw(_upsampler(nd, same_grid=merge != "none")) for _ in range(ups)]
    tail = draw(_window(nd, 2 if merge == "Concat" else 1, strided=False)) if draw(st.booleans()) else None
    for _, module in skip_steps + path_steps + ([tail] if tail else []):
        module.double()

    def make_specs(spatial: Sequence[int]) -> list[dict[str, Any]]:
        specs = [dict(spec, name=f"skip{i}") for i, (spec, _) in enumerate(skip_steps)]
        skip_name = specs[-1]["name"] if specs else "input"
        for i, (spec, _) in enumerate(path_steps):
            specs.append(dict(spec, name=f"path{i}", inputs=skip_name if i == 0 else f"path{i - 1}"))
        if merge != "none":
            shapes = {r.name: r.output_shape[2:] for r in
                      convcalc.analyze({"input": [1, 1, *spatial], "layers": specs}).layers}
            skip_shape = shapes.get(skip_name, tuple(spatial))
            small = [min(a, b) for a, b in zip(shapes[specs[-1]["name"]], skip_shape)]
            specs += [{"name": "crop_up", "type": "Crop", "inputs": specs[-1]["name"], "size": small},
                      {"name": "crop_skip", "type": "Crop", "inputs": skip_name, "size": small},
                      {"name": "merge", "type": merge, "inputs": ["crop_up", "crop_skip"]}]
        if tail is not None:
            specs.append(dict(tail[0], name="last"))
        return specs

    def forward(x: torch.Tensor) -> torch.Tensor:
        for _, fn in skip_steps:
            x = fn(x)
        y = x
        for _, fn in path_steps:
            y = fn(y)
        if merge != "none":
            small = [min(a, b) for a, b in zip(y.shape[2:], x.shape[2:])]
            y, s = _crop(y, small), _crop(x, small)
            y = y + s if merge == "Add" else torch.cat([y, s], dim=1)
        return tail[1](y) if tail is not None else y

    return make_specs, forward


def _exact_fields(nd: int, make_specs: Any, forward: Any) -> None:
    try:
        big = [2048 if nd == 1 else 256] * nd
        sizing = convcalc.analyze({"input": [1, 1, *big], "layers": make_specs(big)})
    except Exception:  # (a crop that would grow, a map that vanished: not this test's subject)
        assume(False)
        raise
    rf = sizing.layers[-1].receptive_field
    assume(all(a.exact for a in rf.axes))
    spatial = [2 * math.ceil(a.size) + 8 * a.period * math.ceil(a.jump) + 8 for a in rf.axes]
    assume(math.prod(spatial) <= 40_000)
    try:
        specs = make_specs(spatial)
        result = convcalc.analyze({"input": [1, 1, *spatial], "layers": specs})
    except Exception:
        assume(False)
        raise
    field = result.layers[-1].receptive_field.axes
    out_spatial = result.output_shape[2:]
    assume(all(o >= 3 for o in out_spatial))
    x = torch.rand(1, 1, *spatial, dtype=torch.float64) + 0.5
    x.requires_grad_(True)
    y = forward(x)
    assert tuple(y.shape) == result.output_shape
    # per axis, a run of consecutive outputs around the centre: a whole period of field patterns
    runs = [[o for o in range(max(0, n // 2 - a.period), min(n, n // 2 + a.period + 1))]
            for a, n in zip(field, out_spatial)]
    checked = 0
    for step in range(max(len(r) for r in runs)):
        where = [r[step % len(r)] for r in runs]
        (grad,) = torch.autograd.grad(y[(0, slice(None), *where)].sum(), x, retain_graph=True)
        g = grad[0, 0]
        if any(a.field(o) is None for a, o in zip(field, where)):  # no input reaches this output
            assert not bool((g != 0).any()), f"{specs} on {spatial}: output {where}, analytic {field}"
            continue
        for axis, a in enumerate(field):
            span = a.field(where[axis])
            context = f"{specs} on {spatial}: axis {axis}, output {where}, analytic {a}"
            assert span is not None
            if span[0] < 0 or span[1] > spatial[axis] - 1:
                continue  # the field reaches the border (its padding): the gradient cannot show all of it
            lo, hi = _field_extent(g, axis)
            assert (lo, hi) == span, f"{context}, measured [{lo}, {hi}]"
            checked += 1
    assume(checked > 0)
    # the reported numbers: the widest field, and the centre of output 0's field
    for a in field:
        spans = [a.field(o) for o in range(a.period)]
        widths = [s[1] - s[0] + 1 for s in spans if s is not None]
        assert a.size == max(widths)
        if spans[0] is not None:
            assert a.start == (spans[0][0] + spans[0][1]) / 2


@pytest.mark.parametrize("nd", [1, 2])
@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
          database=None)
@given(data=st.data())
def test_upsampling_and_merged_fields_are_exact_per_position(nd: int, data: Any) -> None:
    make_specs, forward = data.draw(unet_like(nd))
    _exact_fields(nd, make_specs, forward)


def test_transposed_conv_fields_repeat_with_the_stride() -> None:
    # ConvTranspose1d k=3, s=2, p=1: even outputs read one input, odd ones two
    result = convcalc.analyze({"input": [1, 1, 16], "layers": [
        {"type": "ConvTranspose1d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1}]})
    a = result.layers[0].receptive_field.axes[0]
    assert a.period == 2 and a.jump == Fraction(1, 2)
    assert [a.field(o) for o in range(4)] == [(0, 0), (0, 1), (1, 1), (1, 2)]
    assert a.size == 2 and a.start == 0


def test_unreached_transposed_outputs_have_no_field() -> None:
    # k=1, s=3: only every third output reads an input
    result = convcalc.analyze({"input": [1, 1, 8], "layers": [
        {"type": "ConvTranspose1d", "out_channels": 1, "kernel_size": 1, "stride": 3}]})
    a = result.layers[0].receptive_field.axes[0]
    assert [a.field(o) for o in range(4)] == [(0, 0), None, None, (1, 1)]
    assert a.size == 1 and a.start == 0


def test_unet_decoder_fields_validate() -> None:
    # the decoder's merges once reported [180, 180] where the gradient measured [188, 188]
    from convcalc.archs import load_arch

    report = convcalc.validate(load_arch("unet", {"resolution": 188, "width": 4}), device="cpu", fvcore=False,
                               rf=True)
    assert report.ok, "\n".join(report.diff())
    assert any(c.layer == "dec3.conv.conv1" and c.check == "receptive_field.size" and c.status == "ok"
               for c in report.checks)


def test_the_probe_compares_every_position_with_its_exact_field(monkeypatch: pytest.MonkeyPatch) -> None:
    # one linear field of the right size and start, instead of the repeating pattern: the widest field
    # is right, but odd outputs sit half a jump off, which only a per-position comparison sees
    from convcalc.layers.base import AxisRF, lookup

    spec = {"input": [1, 2, 40], "layers": [
        {"type": "Conv1d", "out_channels": 2, "kernel_size": 3, "stride": 2},
        {"type": "ConvTranspose1d", "out_channels": 2, "kernel_size": 2, "stride": 2}]}
    assert convcalc.validate(spec, rf=True, fvcore=False).ok
    transposed = lookup("ConvTranspose1d")
    original = transposed.rf
    monkeypatch.setattr(transposed, "rf", lambda self, in_rfs: tuple(
        AxisRF(a.size, a.jump, a.start) for a in original(self, in_rfs)))
    report = convcalc.validate(spec, rf=True, fvcore=False)
    assert [(c.layer, c.check) for c in report.failures] == [("convtranspose1d_1", "receptive_field.center")]
