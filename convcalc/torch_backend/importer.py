"""`convcalc import`: a PyTorch module traced with torch.fx and written as a convcalc spec.

Why torch.fx's symbolic tracing (and not torch.export): fx records each call of a module as one node
under the module's qualified name, so a Conv2d (or torchvision's StochasticDepth) stays one layer named
like its state_dict keys; it needs no example input and runs no forward pass - nothing is computed on
tensors, so importing costs a trace, not an inference. torch.export runs the model on fake tensors and
lowers it to aten operators, where modules survive only as metadata. What fx cannot do is follow code
that branches on tensor values; such a model is refused with fx's own message and the source line.

How a module class, a function or a method maps to a layer type is declared on the layer classes
(`Layer.torch_modules`, `torch_functions`, `torch_methods`, `args_from_module`, `args_from_call`); this
module walks the graph, asks the registry, and holds no table of its own. The modules that map to a
registered type are fx leaves, so they stay one layer. Every operation that cannot be mapped is
collected, and the import fails with all of them at once (ImportRefused): never half a spec.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import operator
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import fx, nn

from convcalc.errors import ConvcalcError, LayerError
from convcalc.layers.base import REQUIRED, Arg, Layer, all_layer_types
from convcalc.spec.expand import NET_INPUT

Shape = tuple[int, ...]


# --------------------------------------------------------------------------------------------------
# What cannot be imported
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One operation that has no layer type, or whose arguments its layer type rejects."""

    op: str  # what was called: "torch.erf", "x.masked_fill", "module torch.nn.Embedding"
    module: str  # the qualified name of the module it happens in ("" at the top level)
    reason: str
    hint: str | None = None
    source: str | None = None  # "file.py:12: y = torch.erf(x)", where fx recorded it

    def describe(self) -> str:
        where = f"in '{self.module}'" if self.module else "at the top level"
        text = f"{self.op} {where}" + (f" ({self.source})" if self.source else "") + f": {self.reason}"
        return text + (f"\n      hint: {self.hint}" if self.hint else "")

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "module": self.module, "reason": self.reason, "hint": self.hint,
                "source": self.source}


class ImportRefused(ConvcalcError):
    """The module uses operations convcalc cannot express; every one of them is listed."""

    def __init__(self, problems: Sequence[Problem], what: str = "the module") -> None:
        self.problems = list(problems)
        self.what = what
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = (f"cannot import {self.what}: {count} operation{'s' * (count != 1)} cannot be written as convcalc "
                "layers (no spec was written)")
        return "\n".join([head] + [f"  - {p.describe()}" for p in self.problems])


# --------------------------------------------------------------------------------------------------
# The registry, as fx sees it
# --------------------------------------------------------------------------------------------------

_MISSING = object()
# Packages imported to resolve a declared name; any other package's names count only when the model
# has imported that package already (torchvision's functions matter only to torchvision models).
_ALWAYS = ("torch", "operator", "math", "builtins", "convcalc")


def _resolve(qualified: str) -> Any:
    """The object a declared name names, or None (not importable here, or not imported by the model).

    Looked up from the longest module prefix already imported, as a package attribute may shadow its
    submodule (torchvision.ops.stochastic_depth is both a function and a module).
    """
    parts = qualified.split(".")
    if parts[0] not in sys.modules:
        if parts[0] not in _ALWAYS:
            return None
        importlib.import_module(parts[0])
    for cut in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:cut])
        module = sys.modules.get(name)
        if module is None and parts[0] in _ALWAYS:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
        if module is None:
            continue
        obj: Any = module
        for part in parts[cut:]:
            obj = getattr(obj, part, _MISSING)
            if obj is _MISSING:
                break
        else:
            return obj
    return None


@dataclass
class _Table:
    modules: dict[type, list[type[Layer]]] = field(default_factory=dict)
    functions: dict[Any, list[type[Layer]]] = field(default_factory=dict)
    function_names: dict[Any, str] = field(default_factory=dict)
    methods: dict[str, list[type[Layer]]] = field(default_factory=dict)
    autowrap: list[Callable[..., Any]] = field(default_factory=list)


def _table() -> _Table:
    table = _Table()
    for cls in all_layer_types():
        names = cls.torch_modules if cls.torch_modules is not None else (
            f"torch.nn.{cls.type_name}", f"convcalc.torch_backend.modules.{cls.type_name}")
        for name in names:
            module_class = _resolve(name)
            if not isinstance(module_class, type) or not issubclass(module_class, nn.Module):
                continue
            claims = table.modules.setdefault(module_class, [])
            if cls not in claims:
                claims.append(cls)  # several types may share a class; each tells its own (is_module)
        for name in cls.torch_functions:
            function = _resolve(name)
            if function is None:
                continue
            claims = table.functions.setdefault(function, [])
            if cls not in claims:
                claims.append(cls)
            table.function_names.setdefault(function, name)
            # A plain Python function outside torch (torchvision's channel_shuffle) would be traced
            # through; wrapping it keeps it one call, as the layer type means.
            home = function.__module__ if inspect.isfunction(function) else "torch"
            if home != "torch" and not home.startswith("torch."):
                table.autowrap.append(function)
        for method in cls.torch_methods:
            claims = table.methods.setdefault(method, [])
            if cls not in claims:
                claims.append(cls)
    return table


class _Tracer(fx.Tracer):
    """fx's tracer, with every module of a registered type kept as one call (a leaf)."""

    def __init__(self, leaves: Mapping[type, Any], autowrap: Sequence[Callable[..., Any]],
                 stack_traces: bool) -> None:
        super().__init__(autowrap_functions=tuple(autowrap))
        self.leaves = leaves
        self.record_stack_traces = stack_traces

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        # unregistered torch.nn modules stay leaves too (fx's default), to be reported by class
        return type(m) in self.leaves or super().is_leaf_module(m, module_qualified_name)


# --------------------------------------------------------------------------------------------------
# Values flowing through the graph
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tensor:
    ref: str  # the layer (or `layer.k` piece, or `input`) it comes from
    shape: Shape


@dataclass(frozen=True)
class _Pieces:
    ref: str  # a multi-output layer; piece k is read as `ref.k`
    shapes: tuple[Shape, ...]


@dataclass(frozen=True)
class _Parameter:
    name: str  # its qualified name in the module
    shape: Shape


class _Unknown:
    """A value downstream of an operation already reported: it stays quiet."""


UNKNOWN = _Unknown()


@dataclass
class Emitted:
    """One layer of the imported spec, before blocks are folded."""

    name: str
    type: str
    args: dict[str, Any]
    inputs: list[str]
    scopes: tuple[tuple[str, str, type], ...]  # enclosing module calls: (call key, qualified name, class)
    multi_output: bool = False


def _walk(value: Any, found: list[Any]) -> None:
    if isinstance(value, (list, tuple)):
        for item in value:
            _walk(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _walk(item, found)
    elif isinstance(value, slice):
        _walk([value.start, value.stop, value.step], found)
    else:
        found.append(value)


def _leaves(*values: Any) -> list[Any]:
    found: list[Any] = []
    for value in values:
        _walk(value, found)
    return found


def _plain(value: Any) -> Any:
    """A spec-ready value: tuples (torch.Size) as lists, nothing torch-typed."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.device.type != "meta":
        return value.item()
    return value


# Value computations (x.size(1) // 2) are evaluated on the known shapes; only these may run.
_VALUE_MODULES = ("_operator", "operator", "builtins", "math")


class _Importer:
    def __init__(self, root: nn.Module, input_shape: Shape, table: _Table) -> None:
        self.root = root
        self.input_shape = input_shape
        self.table = table
        self.values: dict[fx.Node, Any] = {}
        self.layers: list[Emitted] = []
        self.problems: list[Problem] = []
        self.problem_nodes: list[fx.Node] = []
        self.calls: Counter[str] = Counter()
        self.used: set[str] = set()
        # functional layers get names of their own, never a module's, parameter's or buffer's
        self.taken: set[str] = {name for name, _ in root.named_modules() if name}
        self.taken.update(name for name, _ in root.named_parameters(remove_duplicate=False))
        self.taken.update(name for name, _ in root.named_buffers(remove_duplicate=False))
        self.placeholders = 0

    # -- names ---------------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        candidate, k = base, 0
        while candidate in self.used or candidate in self.taken or candidate in (NET_INPUT, "prev"):
            k += 1
            candidate = f"{base}_{k}"
        return candidate

    def claim(self, name: str) -> str:
        self.used.add(name)
        return name

    @staticmethod
    def scopes(node: fx.Node) -> tuple[tuple[str, str, type], ...]:
        stack = node.meta.get("nn_module_stack") or {}
        found = []
        for key, value in stack.items():
            qualified, kind = (value if isinstance(value, tuple) else (str(value), object))
            found.append((str(key), str(qualified), kind if isinstance(kind, type) else object))
        if node.op == "call_module" and found and found[-1][1] == node.target:
            found.pop()  # the leaf itself
        return tuple(found)

    def where(self, node: fx.Node) -> str:
        scopes = self.scopes(node)
        return scopes[-1][1] if scopes else ""

    # -- problems ------------------------------------------------------------------------------------
    def refuse(self, node: fx.Node, op: str, reason: str, hint: str | None = None) -> _Unknown:
        self.problems.append(Problem(op, self.where(node), reason, hint))
        self.problem_nodes.append(node)
        return UNKNOWN

    # -- the walk ------------------------------------------------------------------------------------
    def run(self, graph: fx.Graph) -> Any:
        output: Any = None
        for node in graph.nodes:
            if node.op == "output":
                output = node
                continue
            self.values[node] = getattr(self, f"_{node.op}")(node)
        return output

    def arg(self, value: Any) -> Any:
        if isinstance(value, fx.Node):
            return self.values[value]
        if isinstance(value, list):
            return [self.arg(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.arg(v) for v in value)
        if isinstance(value, dict):
            return {k: self.arg(v) for k, v in value.items()}
        if isinstance(value, slice):
            return slice(self.arg(value.start), self.arg(value.stop), self.arg(value.step))
        return value

    def _placeholder(self, node: fx.Node) -> Any:
        self.placeholders += 1
        if self.placeholders > 1 and (node.args or not node.users):
            # an optional argument, traced at its default (fx keeps a placeholder, and a guard, for it)
            return node.args[0] if node.args else None
        if self.placeholders > 1:
            return self.refuse(node, f"input '{node.target}'", "forward() takes more than one tensor input; a "
                               "spec has one input", hint="wrap the model so that forward(x) takes one")
        return _Tensor(NET_INPUT, self.input_shape)

    def _get_attr(self, node: fx.Node) -> Any:
        value = _fetch(self.root, str(node.target))
        if isinstance(value, torch.Tensor):
            return _Parameter(str(node.target), tuple(value.shape))
        return value

    def _call_module(self, node: fx.Node) -> Any:
        target = str(node.target)
        module = self.root.get_submodule(target)
        kind = type(module)
        cls = next((c for c in self.table.modules.get(kind, ()) if c.is_module(module)), None)
        self.calls[target] += 1
        public = f"torch.nn.{kind.__name__}" if getattr(nn, kind.__name__, None) is kind else \
            f"{kind.__module__}.{kind.__qualname__}"
        op = f"module '{target}' ({public})"
        if cls is None:
            return self.refuse(node, op, f"no layer type for {public}", hint=_missing_hint(public))
        args = [self.arg(a) for a in node.args]
        if node.kwargs or any(not isinstance(a, (_Tensor, _Pieces, _Unknown)) for a in args):
            return self.refuse(node, op, "called with arguments other than tensors; a layer reads only tensors",
                               hint="make the extra arguments attributes of the module")
        if self.calls[target] > 1:
            owned = sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())
            if owned:
                return self.refuse(node, op, f"called {self.calls[target]} times: its weights are shared, and "
                                   "each layer of a spec owns its own", hint="give each call its own module")
            name = self.fresh(target)
        else:
            name = target
        inputs = self.tensor_inputs(args)
        if inputs is None:
            return UNKNOWN
        try:
            raw = cls.args_from_module(module)
        except LayerError as exc:
            return self.refuse(node, op, exc.message, exc.hint)
        return self.emit(node, cls, raw, inputs, name, op)

    def tensor_inputs(self, values: Sequence[Any]) -> list[_Tensor] | None:
        inputs: list[_Tensor] = []
        for value in values:
            if isinstance(value, _Unknown):
                return None
            if isinstance(value, _Pieces):  # all pieces, in order
                inputs.extend(_Tensor(f"{value.ref}.{k}", s) for k, s in enumerate(value.shapes))
            else:
                inputs.append(value)
        return inputs

    def emit(self, node: fx.Node, cls: type[Layer], raw: dict[str, Any], inputs: Sequence[_Tensor], name: str,
             op: str) -> Any:
        raw = {k: _plain(v) for k, v in raw.items()}
        try:
            layer = cls(raw, [t.shape for t in inputs], in_names=[t.ref for t in inputs])
        except LayerError as exc:
            return self.refuse(node, op, f"{cls.type_name} rejects it: {exc.message}", exc.hint)
        except (TypeError, ValueError) as exc:  # arguments of a kind no Arg accepts
            return self.refuse(node, op, f"{cls.type_name} cannot take its arguments: {exc}")
        if cls.own_state_key and node.op != "call_module":
            # a parameter read directly: the layer's own must have its shape, or its weights would not load
            expected = _fetch(self.root, name).shape
            built = tuple(getattr(layer.build(), cls.own_state_key).shape)
            if tuple(expected) != built:
                return self.refuse(node, op, f"the parameter '{name}' has shape {list(expected)}; a {cls.type_name} "
                                   f"here holds {list(built)}", hint="hold the parameter in the shape the layer "
                                   "type does, or in a module of a type `convcalc layers` lists")
        self.claim(name)
        self.layers.append(Emitted(name, cls.type_name, spec_args(cls, raw, layer, [t.shape for t in inputs]),
                                   [t.ref for t in inputs], self.scopes(node), cls.multi_output))
        if cls.multi_output:
            return _Pieces(name, tuple(tuple(s) for s in layer.output_shapes()))
        return _Tensor(name, tuple(layer.out_shape))

    def _call_function(self, node: fx.Node) -> Any:
        return self.call(node, node.target, self.table.function_names.get(node.target) or _qualified(node.target))

    def _call_method(self, node: fx.Node) -> Any:
        return self.call(node, str(node.target), str(node.target))

    def call(self, node: fx.Node, target: Any, label: str) -> Any:
        args = [self.arg(a) for a in node.args]
        kwargs = {k: self.arg(v) for k, v in node.kwargs.items()}
        method = node.op == "call_method"
        leaves = _leaves(args, kwargs)
        tensors = [v for v in leaves if isinstance(v, (_Tensor, _Pieces, _Parameter))]
        if any(isinstance(v, _Unknown) for v in leaves):
            return UNKNOWN
        shown = f"x.{label}()" if method else f"{label}()"
        if not tensors:
            if not node.users:
                return None  # a computation on constants nothing reads (fx's guard of an optional argument)
            return self.compute(node, target, args, kwargs, shown)
        value = self.shape_query(node, target, args, method)
        if value is not _MISSING:
            return value
        if target is operator.getitem and isinstance(args[0], _Pieces) and isinstance(args[1], int):
            pieces = args[0]
            index = args[1] % len(pieces.shapes) if -len(pieces.shapes) <= args[1] < len(pieces.shapes) else None
            if index is None:
                return self.refuse(node, shown, f"piece {args[1]} of '{pieces.ref}', which has "
                                   f"{len(pieces.shapes)}")
            return _Tensor(f"{pieces.ref}.{index}", pieces.shapes[index])
        candidates = (self.table.methods if method else self.table.functions).get(target, [])
        parameters = [v for v in tensors if isinstance(v, _Parameter)]
        candidates = [c for c in candidates if c.torch_parameter == bool(parameters)]
        if not candidates:
            reason, hint = _no_type_reason(target, label, method, args, parameters)
            return self.refuse(node, shown, reason, hint=hint)
        cls = candidates[0]
        inputs, rest, problem = _split_operands(args)
        if problem:
            return self.refuse(node, shown, problem)
        if rest and not any(not a.inferred for a in cls.args) and all(isinstance(v, (int, float)) for v in rest):
            return self.refuse(node, shown, _CONSTANT[0], _CONSTANT[1])  # x * 2.0: the type combines tensors
        if any(isinstance(v, (_Tensor, _Pieces, _Parameter)) for v in _leaves(kwargs)):
            return self.refuse(node, shown, "a tensor passed by keyword; the importer maps tensors passed first",
                               hint="pass the tensors positionally")
        tensor_inputs = self.tensor_inputs([v for v in inputs if not isinstance(v, _Parameter)])
        if tensor_inputs is None:
            return UNKNOWN
        try:
            raw = cls.args_from_call(label, [_plain(v) for v in rest], {k: _plain(v) for k, v in kwargs.items()})
        except LayerError as exc:
            return self.refuse(node, shown, exc.message, exc.hint)
        if parameters:
            if len(parameters) != 1:
                return self.refuse(node, shown, "reads more than one parameter directly")
            name = parameters[0].name
            if name in self.used:
                return self.refuse(node, shown, f"parameter '{name}' is used twice; each layer of a spec owns "
                                   "its own", hint="give each use its own parameter")
            raw = {**raw, **cls.args_from_parameter(_fetch(self.root, name))}
        else:
            base = cls.type_name.lower() if label.startswith("operator.") else label.rpartition(".")[2].strip("_")
            prefix = self.where(node)
            name = self.fresh(f"{prefix}.{base}" if prefix else base)
        return self.emit(node, cls, raw, tensor_inputs, name, shown)

    def shape_query(self, node: fx.Node, target: Any, args: Sequence[Any], method: bool) -> Any:
        """x.size(), x.shape, x.dim() and friends: answered from the shapes the layers give."""
        subject = args[0] if args else None
        if not isinstance(subject, _Tensor):
            return _MISSING
        shape = torch.Size(subject.shape)
        if method and target == "size":
            return shape[args[1]] if len(args) > 1 else shape
        if method and target in ("dim", "ndimension"):
            return len(shape)
        if method and target in ("numel", "nelement"):
            return math.prod(shape)
        if target is getattr and len(args) == 2:
            if args[1] == "shape":
                return shape
            if args[1] == "ndim":
                return len(shape)
            return self.refuse(node, f"x.{args[1]}", "only a tensor's shape is known while importing")
        return _MISSING

    def compute(self, node: fx.Node, target: Any, args: Sequence[Any], kwargs: Mapping[str, Any],
                shown: str) -> Any:
        """A computation on plain values (sizes, ints): run it, as the model would."""
        if node.op == "call_method":
            subject = args[0]
            if isinstance(subject, torch.Tensor):
                return self.refuse(node, shown, "a method of a constant tensor; layers read the input")
            try:
                return getattr(subject, str(target))(*args[1:], **kwargs)
            except Exception as exc:  # noqa: BLE001 - the model's own computation failing on its values
                return self.refuse(node, shown, f"raised {type(exc).__name__}: {exc}")
        module = getattr(target, "__module__", None) or ""
        if module not in _VALUE_MODULES and not (target is getattr):
            return self.refuse(node, shown, "creates a tensor from constants; a layer reads its input",
                               hint="make the constant a buffer of a module, or compute it outside forward()")
        try:
            return target(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            return self.refuse(node, shown, f"raised {type(exc).__name__}: {exc}")

    # -- the end -------------------------------------------------------------------------------------
    def finish(self, output: fx.Node | None) -> None:
        if output is None:
            return
        result = self.arg(output.args[0])
        if isinstance(result, _Unknown):
            return
        if not isinstance(result, _Tensor):
            what = ("several tensors" if isinstance(result, (tuple, list, dict, _Pieces))
                    else f"a {type(result).__name__}")
            self.refuse(output, "return", f"forward() returns {what}; a spec has one output",
                        hint="wrap the model so that it returns one tensor")
            return
        last = self.layers[-1] if self.layers else None
        if last is None or last.name != result.ref:
            # the network's output is its last layer: pass the returned tensor through to the end
            name = self.claim(self.fresh("output"))
            self.layers.append(Emitted(name, "Identity", {}, [result.ref], ()))


def _fetch(root: nn.Module, qualified: str) -> Any:
    obj: Any = root
    for part in qualified.split("."):
        obj = getattr(obj, part)
    return obj


def _qualified(target: Any) -> str:
    """A readable name for a function fx recorded: torch.erf, operator.mul, torch.nn.functional.gelu."""
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or getattr(target, "__qualname__", None) or repr(target)
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    if not module or module.startswith("torch._C"):
        return f"torch.{name}"  # torch's builtins (torch.erf) report no module, or a private one
    return f"{module}.{name}"


def _split_operands(args: Sequence[Any]) -> tuple[list[Any], list[Any], str | None]:
    """The leading tensors (the layer's inputs; a list of tensors, as torch.cat takes, counts) and the rest."""
    inputs: list[Any] = []
    index = 0
    for index, value in enumerate(args):
        if isinstance(value, (_Tensor, _Pieces, _Parameter)):
            inputs.append(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (_Tensor, _Pieces)) for v in value):
            inputs.extend(value)
        else:
            break
    else:
        index = len(args)
    rest = list(args[index:])
    if any(isinstance(v, (_Tensor, _Pieces, _Parameter)) for v in _leaves(rest)):
        return inputs, rest, "a tensor after a non-tensor argument; the importer maps calls whose tensors come first"
    if not inputs:
        return inputs, rest, "no tensor input"
    return inputs, rest, None


def _no_type_reason(target: Any, label: str, method: bool, args: Sequence[Any],
                    parameters: Sequence[_Parameter]) -> tuple[str, str]:
    """Why a call has no layer type, and what the user can do about it."""
    if parameters:
        names = ", ".join(f"'{p.name}'" for p in parameters)
        return (f"reads the parameter {names} directly; no layer type holds a parameter for this "
                "operation", "move the parameter into a module of a type `convcalc layers` lists (a "
                "parameter [C, 1, 1] multiplying a tensor, as ConvNeXt's layer_scale, maps to Scale)")
    if target is operator.getitem:
        return ("indexes or slices a tensor; no layer type does that",
                "write a slice of one dim as x.narrow(dim, start, length), which maps to Narrow")
    if label.startswith("operator.") and any(isinstance(a, (int, float)) for a in args):
        return _CONSTANT
    return "no layer type matches it", _missing_hint(label)


_CONSTANT = ("combines a tensor with a constant; layers combine tensors",
             "fold the constant into a neighbouring layer, or hold it as a parameter of a module")


def _missing_hint(name: str) -> str:
    return (f"{name} needs a layer type of its own: add one (a class in convcalc/layers/ that declares "
            "torch_modules / torch_functions; see DESIGN.md), or rewrite that part of the model with layers "
            "`convcalc layers` lists")


# --------------------------------------------------------------------------------------------------
# Arguments as a spec writes them: defaults and inferred values left out, uniform lists shortened
# --------------------------------------------------------------------------------------------------


def _coerced(arg: Arg, value: Any, ndim: int | None) -> Any:
    try:
        return arg.coerce(value, ndim)
    except (LayerError, TypeError, ValueError):
        return _MISSING


def spec_args(cls: type[Layer], raw: Mapping[str, Any], layer: Layer, in_shapes: Sequence[Shape]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    resolved = None
    for arg in cls.args:
        if arg.name not in raw or arg.inferred:
            continue
        value = raw[arg.name]
        if arg.default is not REQUIRED:
            mine = _coerced(arg, value, cls.ndim)
            if mine is not _MISSING and mine == _coerced(arg, arg.default, cls.ndim):
                continue
            if arg.default is None and value is not None:
                # a default that stands for another value (a pool's stride = kernel_size): left out when
                # the layer resolves to the same without it
                if resolved is None:
                    resolved = (layer.resolved_args(), layer.out_shape)
                try:
                    without = cls({k: v for k, v in raw.items() if k != arg.name}, in_shapes)
                    if (without.resolved_args(), without.out_shape) == resolved:
                        continue
                except (LayerError, TypeError, ValueError):
                    pass
        out[arg.name] = _shortened(arg, value, cls.ndim)
    return out


def _shortened(arg: Arg, value: Any, ndim: int | None) -> Any:
    if isinstance(value, list) and value and all(v == value[0] for v in value) and not isinstance(value[0], list):
        full = _coerced(arg, value, ndim)
        if full is not _MISSING and _coerced(arg, value[0], ndim) == full:
            return value[0]
    return value


# --------------------------------------------------------------------------------------------------
# The public functions
# --------------------------------------------------------------------------------------------------


def trace(module: nn.Module, table: _Table, stack_traces: bool = False) -> fx.Graph:
    """The module's fx graph, traced in eval mode (what inference runs), its mode restored after."""
    tracer = _Tracer(table.modules, table.autowrap, stack_traces)
    concrete: dict[str, Any] = {}
    try:
        parameters = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    for parameter in parameters[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is not parameter.empty:
            concrete[parameter.name] = parameter.default  # optional arguments keep their defaults
    training = module.training
    module.eval()
    try:
        return tracer.trace(module, concrete_args=concrete or None)
    finally:
        module.train(training)


def _trace_failure(exc: BaseException, what: str) -> ImportRefused:
    frames = [f for f in _traceback_frames(exc) if "/torch/" not in f.filename.replace("\\", "/")]
    source = (f"{_shown_path(frames[-1].filename)}:{frames[-1].lineno}: {(frames[-1].line or '').strip()}"
              if frames else None)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = None
    if "control flow" in message or "iterated" in message:
        hint = ("torch.fx cannot follow Python control flow on tensor values; make the branch a module that "
                "maps to a layer type, or trace a wrapper without it")
    return ImportRefused([Problem("tracing", "", f"torch.fx cannot trace it: {type(exc).__name__}: {message}",
                                  hint, source)], what)


def _traceback_frames(exc: BaseException) -> list[Any]:
    import traceback

    return list(traceback.extract_tb(exc.__traceback__))


def _source_of(node: fx.Node) -> str | None:
    trace_text = node.stack_trace or node.meta.get("stack_trace")
    if not trace_text:
        return None
    matches = re.findall(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)', trace_text)
    user = [m for m in matches if "/torch/" not in m[0].replace("\\", "/")] or matches
    if not user:
        return None
    file, line, code = user[-1]
    return f"{_shown_path(file)}:{line}: {code.strip()}"


def _shown_path(file: str) -> str:
    """A source file as the user knows it: relative to the working folder when it is inside it."""
    try:
        relative = os.path.relpath(file)
    except ValueError:  # another drive
        return file
    return file if relative.startswith("..") else relative


def import_layers(module: nn.Module, input_shape: Sequence[int], what: str = "the module") -> list[Emitted]:
    """Every layer of `module` at `input_shape`, in execution order; ImportRefused lists what cannot be."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(int(s) for s in input_shape)
    table = _table()
    try:
        graph = trace(module, table)
    except Exception as exc:  # noqa: BLE001 - whatever fx raises, the user gets it with the source line
        raise _trace_failure(exc, what) from None
    importer = _Importer(module, shape, table)
    importer.finish(importer.run(graph))
    if importer.problems:
        # trace again, recording where each node comes from, only to say where the problems are
        problems = importer.problems
        try:
            located = trace(module, table, stack_traces=True)
            again = _Importer(module, shape, table)
            again.finish(again.run(located))
            if len(again.problems) == len(problems):
                problems = [p.__class__(p.op, p.module, p.reason, p.hint, _source_of(n))
                            for p, n in zip(again.problems, again.problem_nodes)]
        except Exception:  # noqa: BLE001 - the locations are a courtesy
            pass
        raise ImportRefused(problems, what)
    return importer.layers


def from_module(module: nn.Module, input_shape: Sequence[int], *, name: str | None = None,
                blocks: bool = True, description: str | None = None, what: str | None = None) -> dict[str, Any]:
    """The spec of `module` at `input_shape`, as a mapping (what `convcalc import` writes as YAML).

    Layer names are the module's qualified names (state_dict keys match); functional operations get
    names of their own under their module (`layer1.0.add`). With `blocks`, repeated module structures
    become parameterised blocks. Raises ImportRefused listing every operation that has no layer type.
    """
    shape = [int(s) for s in input_shape]
    label = name or _name_of(module)
    layers = import_layers(module, shape, what=what or type(module).__name__)
    from convcalc.torch_backend.specwriter import fold, layer_items

    spec: dict[str, Any] = {"name": label,
                            "description": description or f"{type(module).__name__}, imported by convcalc import",
                            "input": shape}
    if blocks:
        block_defs, items = fold(layers)
        if block_defs:
            spec["blocks"] = block_defs
        spec["layers"] = items
    else:
        spec["layers"] = layer_items(layers)
    return spec


@dataclass
class ImportResult:
    """What `convcalc import` produces: the spec (a mapping), its YAML text, and that text's analysis."""

    spec: dict[str, Any]
    text: str
    analysis: Any


def import_target(target: str, input_shape: Sequence[int], *, name: str | None = None, blocks: bool = True,
                  against: str | None = None) -> ImportResult:
    """Import a target ('package.module:callable(kw=value)' or 'file.py:callable') at `input_shape`.

    The model is built on the meta device when its code allows (no memory, no initialisation: nothing
    of it is computed); the YAML written is analysed before it is returned, so it is always a valid spec.
    """
    from convcalc.analysis.core import analyze
    from convcalc.spec.expand import load_spec
    from convcalc.torch_backend.specwriter import to_yaml
    from convcalc.torch_backend.targets import load_module, parse_target

    parsed = parse_target(target)
    module = load_module(parsed, device="meta")
    kind = type(module).__name__
    spec = from_module(module, input_shape, name=name or parsed.short_name, blocks=blocks,
                       description=f"{kind} from {parsed.text}, imported by convcalc import", what=f"'{parsed.text}'")
    if against:
        spec["against"] = against
    header = [f"Imported from {parsed.text} by `convcalc import` (torch {torch.__version__}).",
              "Layer names are the model's module names, so its state_dict loads into convcalc.build(spec);",
              f"check the spec against the code with: convcalc validate THIS_FILE --against \"{parsed.text}\""
              if not against else "`against:` names the code: `convcalc validate` and `convcalc check` prove the "
              "spec equal to it."]
    text = to_yaml(spec, header)
    try:
        analysis = analyze(load_spec(text))
    except ConvcalcError as exc:  # pragma: no cover - a defect of the importer, not of the model
        raise ConvcalcError(f"internal error: the imported spec does not analyse ({exc}); please report "
                            "this with the model") from None
    return ImportResult(spec, text, analysis)


def _name_of(module: nn.Module) -> str:
    return type(module).__name__.lower() or "network"


__all__ = ["Emitted", "ImportRefused", "ImportResult", "Problem", "from_module", "import_layers", "import_target",
           "spec_args", "trace"]
