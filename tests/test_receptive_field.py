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
