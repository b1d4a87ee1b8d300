"""Safe evaluation of the small expressions allowed in specs (`$c`, `${c * 4}`, `${2 if i == 0 else 1}`).

Parsed with `ast` and walked by hand: literals, names bound by the spec, arithmetic, comparisons,
conditionals, indexing and a few whitelisted functions. Nothing is ever passed to `eval`.

Expressions may read the shape flowing into a layer (`in_channels`, `in_shape`, ...; SHAPE_VARIABLES).
That shape is only known to the analysis, after expansion, so such an expression (and any expression
reading a block parameter that is one) is kept as a `Deferred` and evaluated once the shape is known.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

_WHOLE_VAR = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_WHOLE_EXPR = re.compile(r"^\$\{(.*)\}$", re.S)
_EMBEDDED = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class ExprError(ValueError):
    pass


# The incoming shape, as expressions see it: the layer's first input (a block parameter: the block's input).
SHAPE_VARIABLES: dict[str, str] = {
    "in_shape": "the whole incoming shape, e.g. [1, 64, 56, 56]",
    "in_channels": "the incoming channels (dim 1)",
    "in_spatial": "the incoming spatial sizes (dims 2 onwards), e.g. [56, 56]",
    "in_features": "the incoming last dim",
}


class NeedsShape(ExprError):
    """An expression read the incoming shape (directly or through a block parameter that does)."""

    def __init__(self, variable: str) -> None:
        super().__init__(f"'{variable}' is the incoming shape, which is only known to the analysis")
        self.variable = variable


@dataclass(frozen=True, eq=False)
class Deferred:
    """An expression that reads the incoming shape: evaluated by the analysis, when `in_ref`'s shape is known.

    `env` is the environment the expression was written in (it may hold other Deferred values, each with
    its own `in_ref`); `in_ref` is the resolved name of the layer whose output is "incoming".
    """

    source: str
    env: Mapping[str, Any]
    variable: str  # the shape variable that made it deferred, for messages
    in_ref: str | None = None

    def bind(self, in_ref: str) -> "Deferred":
        return self if self.in_ref is not None else Deferred(self.source, self.env, self.variable, in_ref)

    def __repr__(self) -> str:
        return f"${{{self.source}}}"


def shape_variables(shape: Sequence[int]) -> dict[str, Any]:
    shape = list(shape)
    return {"in_shape": shape, "in_channels": shape[1] if len(shape) > 1 else shape[0],
            "in_spatial": shape[2:], "in_features": shape[-1]}


def find_deferred(value: Any) -> Deferred | None:
    """The first Deferred inside a value (lists and mappings searched), or None."""
    if isinstance(value, Deferred):
        return value
    if isinstance(value, (list, tuple)):
        return next((d for d in map(find_deferred, value) if d is not None), None)
    if isinstance(value, Mapping):
        return next((d for d in map(find_deferred, value.values()) if d is not None), None)
    return None


def bind_deferred(value: Any, in_ref: str) -> Any:
    """Bind every unbound Deferred inside `value` to the layer `in_ref`."""
    if isinstance(value, Deferred):
        return value.bind(in_ref)
    if isinstance(value, list):
        return [bind_deferred(v, in_ref) for v in value]
    return value


def resolve_deferred(value: Any, shape_of: Callable[[str], Sequence[int]]) -> Any:
    """Evaluate every Deferred inside `value`, reading shapes through `shape_of(layer name)`."""
    if isinstance(value, list):
        return [resolve_deferred(v, shape_of) for v in value]
    if not isinstance(value, Deferred):
        return value
    if value.in_ref is None:  # pragma: no cover - the expander binds every Deferred it keeps
        raise ExprError(f"'{value.variable}' has no incoming layer here")
    env = {k: resolve_deferred(v, shape_of) for k, v in value.env.items()}
    env.update(shape_variables(shape_of(value.in_ref)))
    return evaluate(value.source, env)


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of `divisor`, never dropping more than 10% (MobileNetV2)."""
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "int": int, "float": float, "round": round, "min": min, "max": max, "abs": abs,
    "floor": math.floor, "ceil": math.ceil, "make_divisible": make_divisible, "len": len,
}

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def evaluate(source: str, env: Mapping[str, Any]) -> Any:
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"cannot parse expression '{source}': {exc.msg}") from None
    return _eval(tree.body, env)


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            value = env[node.id]
            if isinstance(value, Deferred):
                raise NeedsShape(value.variable)
            return value
        if node.id in ("true", "false"):
            return node.id == "true"
        if node.id in SHAPE_VARIABLES:
            raise NeedsShape(node.id)
        known = ", ".join(sorted(env)) or "none"
        raise ExprError(f"unknown variable '{node.id}' (variables here: {known})")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, env), _eval(node.right, env)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 64:
            raise ExprError("exponent too large")
        try:
            return _BINARY[type(node.op)](left, right)
        except (TypeError, ZeroDivisionError) as exc:
            raise ExprError(str(exc)) from None
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return +value
        if isinstance(node.op, ast.Not):
            return not value
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comparator in zip(node.ops, node.comparators):
            right = _eval(comparator, env)
            if type(op) not in _COMPARE or not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Subscript):
        container, index = _eval(node.value, env), _eval(node.slice, env)
        if not isinstance(container, list) or not isinstance(index, int) or isinstance(index, bool):
            raise ExprError(f"'{ast.unparse(node)}': only a list can be indexed, by an integer")
        if not -len(container) <= index < len(container):
            raise ExprError(f"'{ast.unparse(node)}': index {index} is out of range for {container}")
        return container[index]
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, env) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        args = [_eval(a, env) for a in node.args]
        kwargs = {k.arg: _eval(k.value, env) for k in node.keywords if k.arg}
        try:
            return FUNCTIONS[node.func.id](*args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise ExprError(str(exc)) from None
    raise ExprError(f"'{ast.unparse(node)}' is not allowed in a spec expression "
                    f"(numbers, variables, arithmetic, comparisons, 'a if c else b', list[index], "
                    f"{', '.join(FUNCTIONS)})")


def reads_variable(value: Any, variable: str) -> bool:
    """Whether a `$name` / `${expr}` in a string reads `variable` (an unparsable expression reads nothing)."""
    if not isinstance(value, str) or "$" not in value:
        return False
    for match in _EMBEDDED.finditer(value):
        try:
            tree = ast.parse((match.group(1) or match.group(2)).strip(), mode="eval")
        except SyntaxError:
            continue
        if any(isinstance(node, ast.Name) and node.id == variable for node in ast.walk(tree)):
            return True
    return False


def substitute(value: Any, env: Mapping[str, Any]) -> Any:
    """Replace `$name` and `${expr}` in a string (recursively in lists); other values pass through."""
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _WHOLE_VAR.match(value) or _WHOLE_EXPR.match(value)
    if whole and "${" not in whole.group(1):
        try:
            return evaluate(whole.group(1), env)
        except NeedsShape as exc:
            return Deferred(whole.group(1).strip(), dict(env), exc.variable)

    def one(match: re.Match[str]) -> str:
        try:
            return str(evaluate(match.group(1) or match.group(2), env))
        except NeedsShape as exc:
            raise ExprError(f"'{exc.variable}' (the incoming shape) cannot be part of a longer text: "
                            "write the whole value as one ${...}") from None

    return _EMBEDDED.sub(one, value)
