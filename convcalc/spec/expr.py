"""Safe evaluation of the small expressions allowed in specs (`$c`, `${c * 4}`, `${2 if i == 0 else 1}`).

Parsed with `ast` and walked by hand: literals, names bound by the spec, arithmetic, comparisons,
conditionals and a few whitelisted functions. Nothing is ever passed to `eval`.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any, Callable, Mapping

_WHOLE_VAR = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_WHOLE_EXPR = re.compile(r"^\$\{(.*)\}$", re.S)
_EMBEDDED = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class ExprError(ValueError):
    pass


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of `divisor`, never dropping more than 10% (MobileNetV2)."""
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "int": int, "float": float, "round": round, "min": min, "max": max, "abs": abs,
    "floor": math.floor, "ceil": math.ceil, "make_divisible": make_divisible,
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
            return env[node.id]
        if node.id in ("true", "false"):
            return node.id == "true"
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
                    f"(numbers, variables, arithmetic, comparisons, 'a if c else b', {', '.join(FUNCTIONS)})")


def substitute(value: Any, env: Mapping[str, Any]) -> Any:
    """Replace `$name` and `${expr}` in a string (recursively in lists); other values pass through."""
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _WHOLE_VAR.match(value)
    if whole:
        return evaluate(whole.group(1), env)
    whole = _WHOLE_EXPR.match(value)
    if whole and "${" not in whole.group(1):
        return evaluate(whole.group(1), env)

    def one(match: re.Match[str]) -> str:
        return str(evaluate(match.group(1) or match.group(2), env))

    return _EMBEDDED.sub(one, value)
