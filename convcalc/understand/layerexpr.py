"""Layers as PyTorch-style expressions, and variants of a layer with some arguments changed.

The expressions printed here are what a user pastes back into convcalc or into PyTorch, so they are
written with PyTorch's positional order and only the arguments that differ from the defaults.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import Layer, Shape, lookup

# Keyword-only arguments convcalc accepts but PyTorch's constructor does not (ConvTranspose's output_size,
# solved into output_padding).
_NOT_CONSTRUCTOR_ARGS = ("output_size",)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def format_value(value: Any) -> str:
    """2 for (2, 2), (1, 2) for a per-dim tuple, 'same' for a string, True/False for a bool."""
    value = _plain(value)
    if isinstance(value, tuple):
        if value and all(v == value[0] for v in value):
            return format_value(value[0])
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def layer_expression(layer: Layer, type_name: str | None = None) -> str:
    """The layer as a constructor call, e.g. 'ConvTranspose2d(16, 3, 3, stride=2, output_padding=1)'."""
    cls = type(layer)
    values = layer.resolved_args()
    parts: list[str] = []
    keywords = False
    for arg in cls.args:
        if arg.name in _NOT_CONSTRUCTOR_ARGS and arg.keyword_only:
            continue
        value = _plain(values.get(arg.name))
        leading = (arg.required or arg.inferred) and not arg.keyword_only
        if leading and not keywords:
            parts.append(format_value(value))
            continue
        keywords = True
        default = arg.default
        if default is not None:
            try:
                default = _plain(arg.coerce(default, cls.ndim))
            except LayerError:  # pragma: no cover - a default always coerces
                pass
        if value == default or (value is None and default is None):
            continue
        parts.append(f"{arg.name}={format_value(value)}")
    return f"{type_name or cls.type_name}({', '.join(parts)})"


def make_layer(type_name: str, args: Mapping[str, Any], in_shape: Sequence[int]) -> Layer:
    """Construct a layer of a registered type on one input shape (raises LayerError like a spec would)."""
    return lookup(type_name)(dict(args), [tuple(in_shape)])


def with_args(layer: Layer, in_shape: Shape | None = None, **changes: Any) -> Layer:
    """The same layer type with some arguments changed (and optionally another input shape)."""
    skip = {a.name for a in type(layer).args if a.name in _NOT_CONSTRUCTOR_ARGS and a.keyword_only}
    args = {k: v for k, v in layer.resolved_args().items() if v is not None and k not in skip}
    args.update(changes)
    args = {k: v for k, v in args.items() if v is not None}
    return type(layer)(args, [tuple(in_shape) if in_shape is not None else layer.in_shape])


def spatial_dims(layer: Layer) -> int:
    return layer.ndim or 0


def axis_names(ndim: int) -> list[str]:
    """Conventional names of the spatial dims: L; H, W; D, H, W."""
    return {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}.get(ndim, [str(i) for i in range(ndim)])
