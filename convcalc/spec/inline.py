"""Inline PyTorch-style layer expressions: "Conv2d(3, 64, 7, stride=2, padding=3)".

Parsed with `ast`: a call of a layer class name (optionally `nn.` / `torch.nn.` prefixed) whose
arguments are literals only. Positional arguments follow the PyTorch constructor's order.
"""

from __future__ import annotations

import ast
from typing import Any, Sequence

from convcalc.errors import LayerError, Location, SpecError
from convcalc.layers.base import COMPOSITES, lookup
from convcalc.spec.yamlload import SpecList, SpecMap


def parse_layer_expression(text: str, index: int = 0) -> SpecMap:
    """One expression -> a spec layer mapping ({type: ..., args...})."""
    where = Location(f"<expression {index + 1}>", 1, 1)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse layer expression {text!r}: {exc.msg}",
                        location=Location(where.file, 1, exc.offset or 1),
                        hint='write it like PyTorch: "Conv2d(3, 64, 7, stride=2, padding=3)"') from None
    call = tree.body
    if not isinstance(call, ast.Call):
        raise SpecError(f"{text!r} is not a layer expression", location=where,
                        hint='write a constructor call like "MaxPool2d(3, 2, padding=1)"')
    type_name = _callee_name(call.func)
    if type_name is None:
        raise SpecError(f"{text!r}: the layer must be a plain class name like Conv2d or nn.Conv2d", location=where)
    composite = COMPOSITES.get(type_name.lower())
    try:
        cls: Any = composite or lookup(type_name)
    except LayerError as exc:
        raise SpecError(exc.message, location=where, hint=exc.hint, layer_type=type_name) from None
    positional = [a.name for a in cls.args if not a.keyword_only]
    layer = SpecMap(type=cls.type_name)
    layer.location = where
    if len(call.args) > len(positional):
        raise SpecError(f"{cls.type_name} takes at most {len(positional)} positional arguments "
                        f"({', '.join(positional)}), got {len(call.args)}", location=where, layer_type=cls.type_name)
    for name, node in zip(positional, call.args):
        layer[name] = _literal(node, text, where, cls.type_name)
    for keyword in call.keywords:
        if keyword.arg is None:
            raise SpecError("**kwargs are not allowed in a layer expression", location=where)
        if keyword.arg in layer:
            raise SpecError(f"{cls.type_name} got '{keyword.arg}' twice", location=where, layer_type=cls.type_name)
        layer[keyword.arg] = _literal(keyword.value, text, where, cls.type_name)
    return layer


def _callee_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literal(node: ast.AST, text: str, where: Location, type_name: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError):
        raise SpecError(f"only literal values are allowed in a layer expression, not {ast.unparse(node)!r}",
                        location=where, layer_type=type_name) from None
    return _lists(value)


def _lists(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_lists(v) for v in value]
    return value


def spec_from_expressions(expressions: Sequence[str], input_shape: Sequence[int] | None) -> dict[str, Any]:
    layers = SpecList(parse_layer_expression(text, i) for i, text in enumerate(expressions))
    spec: dict[str, Any] = {"name": "layers", "layers": layers}
    if input_shape is not None:
        spec["input"] = list(input_shape)
    return spec


def looks_like_expression(text: str) -> bool:
    return "(" in text and text.rstrip().endswith(")")
