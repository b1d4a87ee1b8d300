"""Composite types: spec conveniences that the analysis expands into real convolutions.

Each expands, once the incoming shape is known, into ordinary layers named `<name>.<part>`, which the
analysis then checks, counts and builds one by one (so every number stays provable in PyTorch).
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from convcalc.errors import LayerError
from convcalc.layers.base import Arg, Composite, Shape, register_composite

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_args(cls: type[Composite], raw_args: Mapping[str, Any]) -> dict[str, Any]:
    """Reject unknown or missing arguments and fill defaults; the expanded convs check the values."""
    known = {a.name: a for a in cls.args}
    for key in raw_args:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            raise LayerError(f"{cls.type_name} has no argument '{key}'",
                             hint=(f"did you mean '{close[0]}'? " if close else "")
                             + f"{cls.type_name} takes: {', '.join(known)}", arg=str(key))
    values: dict[str, Any] = {}
    for arg in cls.args:
        if arg.name in raw_args:
            values[arg.name] = raw_args[arg.name]
        elif arg.required:
            raise LayerError(f"{cls.type_name} needs '{arg.name}' ({arg.doc})", arg=arg.name)
        else:
            values[arg.name] = arg.default
    return values


def _channels(cls: type[Composite], in_shape: Shape) -> int:
    ndim = cls.ndim or 0
    if len(in_shape) == ndim + 2:
        return in_shape[1]
    if len(in_shape) == ndim + 1:
        return in_shape[0]
    raise LayerError(f"{cls.type_name} expects a {ndim + 2}D [N, C, ...] input, got {list(in_shape)}", arg="inputs")


class _DepthwiseSeparableConvNd(Composite):
    """Depthwise separable convolution (MobileNet, Xception): two convolutions.

    Expansion for an input with C channels:
      <name>.depthwise: Conv{n}d(C -> C * depth_multiplier, kernel_size, stride, padding, dilation,
                        groups=C, bias, padding_mode)   - each channel filtered on its own
      <name>.pointwise: Conv{n}d(C * depth_multiplier -> out_channels, kernel_size=1, bias)
    """

    args = (
        Arg("out_channels", "int", doc="channels after the pointwise convolution"),
        Arg("kernel_size", "ints_exact", doc="depthwise window size"),
        Arg("stride", "ints", 1, doc="depthwise stride"),
        Arg("padding", "padding", 0, choices=("same", "valid"), doc="depthwise padding"),
        Arg("dilation", "ints", 1, doc="depthwise dilation"),
        Arg("bias", "bool", True, doc="bias on both convolutions"),
        Arg("depth_multiplier", "int", 1, doc="depthwise outputs per input channel"),
        Arg("padding_mode", "str", "zeros", choices=_PADDING_MODES, doc="depthwise padding mode"),
    )

    @classmethod
    def expand(cls, raw_args: Mapping[str, Any], in_shape: Shape) -> list[tuple[str, str, dict[str, Any]]]:
        values = _check_args(cls, raw_args)
        channels = _channels(cls, in_shape)
        multiplier = values["depth_multiplier"]
        if not isinstance(multiplier, int) or isinstance(multiplier, bool) or multiplier < 1:
            raise LayerError(f"depth_multiplier must be a positive integer, got {multiplier!r}",
                             arg="depth_multiplier")
        conv = f"Conv{cls.ndim}d"
        depthwise = {
            "out_channels": channels * multiplier, "kernel_size": values["kernel_size"],
            "stride": values["stride"], "padding": values["padding"], "dilation": values["dilation"],
            "groups": channels, "bias": values["bias"], "padding_mode": values["padding_mode"],
        }
        pointwise = {"out_channels": values["out_channels"], "kernel_size": 1, "bias": values["bias"]}
        return [("depthwise", conv, depthwise), ("pointwise", conv, pointwise)]


for _n in (1, 2, 3):
    register_composite(type(f"DepthwiseSeparableConv{_n}d", (_DepthwiseSeparableConvNd,), {
        "type_name": f"DepthwiseSeparableConv{_n}d", "ndim": _n,
        "summary": f"{_n}D depthwise conv (groups = channels) then a 1x1 pointwise conv",
    }))


@register_composite
class SpatiallySeparableConv2d(Composite):
    """A k_h x k_w convolution factored into a k_h x 1 then a 1 x k_w convolution (Inception v3).

    Expansion, with kernel_size (k_h, k_w), stride (s_h, s_w), padding (p_h, p_w) (or 'same'/'valid')
    and dilation (d_h, d_w), each given as an int or a pair:
      <name>.vertical:   Conv2d(C -> out_channels, kernel (k_h, 1), stride (s_h, 1), padding (p_h, 0),
                         dilation (d_h, 1), bias, padding_mode)
      <name>.horizontal: Conv2d(out_channels -> out_channels, kernel (1, k_w), stride (1, s_w),
                         padding (0, p_w), dilation (1, d_w), bias, padding_mode)
    'same' / 'valid' padding is passed to both convolutions.
    """

    type_name = "SpatiallySeparableConv2d"
    summary = "k x k conv factored into k x 1 then 1 x k"
    ndim = 2
    args = (
        Arg("out_channels", "int", doc="channels of both convolutions"),
        Arg("kernel_size", "ints_exact", doc="k or [k_h, k_w]"),
        Arg("stride", "ints", 1, doc="s or [s_h, s_w]"),
        Arg("padding", "padding", 0, choices=("same", "valid"), doc="p, [p_h, p_w], 'same' or 'valid'"),
        Arg("dilation", "ints", 1, doc="d or [d_h, d_w]"),
        Arg("bias", "bool", True, doc="bias on both convolutions"),
        Arg("padding_mode", "str", "zeros", choices=_PADDING_MODES, doc="padding mode of both"),
    )

    @classmethod
    def expand(cls, raw_args: Mapping[str, Any], in_shape: Shape) -> list[tuple[str, str, dict[str, Any]]]:
        values = _check_args(cls, raw_args)
        _channels(cls, in_shape)
        coerced = {a.name: a.coerce(values[a.name], 2) for a in cls.args if values[a.name] is not None}
        (kh, kw), (sh, sw), (dh, dw) = coerced["kernel_size"], coerced["stride"], coerced["dilation"]
        padding = coerced["padding"]
        pad_v: Any = padding if isinstance(padding, str) else [padding[0], 0]
        pad_h: Any = padding if isinstance(padding, str) else [0, padding[1]]
        common = {"out_channels": coerced["out_channels"], "bias": coerced["bias"],
                  "padding_mode": coerced["padding_mode"]}
        return [
            ("vertical", "Conv2d", {**common, "kernel_size": [kh, 1], "stride": [sh, 1], "padding": pad_v,
                                    "dilation": [dh, 1]}),
            ("horizontal", "Conv2d", {**common, "kernel_size": [1, kw], "stride": [1, sw], "padding": pad_h,
                                      "dilation": [1, dw]}),
        ]
