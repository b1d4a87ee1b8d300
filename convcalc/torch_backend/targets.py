"""Model targets on the command line: `package.module:callable`, `path/to/file.py:callable(kw=value)`.

The callable is imported (from an installed module, or from a file by path) and called; its arguments
are literals only, parsed with `ast` and read with `ast.literal_eval`, never evaluated as code. Every
way this can go wrong is a TargetError (exit 2 on the command line) that says what to fix.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import hashlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from convcalc.errors import ConvcalcError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

_FORMS = ("package.module:callable, package.module:callable(kw=value, ...) or path/to/file.py:callable")


class TargetError(ConvcalcError):
    """A model target that cannot be parsed, imported, called, or that returns no nn.Module."""

    def __init__(self, message: str, *, target: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        self.hint = hint

    def __str__(self) -> str:
        text = f"target '{self.target}': {self.message}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


@dataclass(frozen=True)
class Target:
    """A parsed target: where the callable lives, its dotted name there, and its literal arguments."""

    text: str
    module: str  # a dotted module name, or a path to a .py file
    attribute: str  # the callable's dotted name inside that module
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_file(self) -> bool:
        return self.module.endswith(".py") or "/" in self.module or os.sep in self.module

    @property
    def short_name(self) -> str:
        """A name for the spec: the callable's own name (resnet50, MyNet)."""
        return self.attribute.rpartition(".")[2]


def parse_target(text: str) -> Target:
    """Split `module:callable(args)`; the arguments must be Python literals."""
    raw = text.strip()
    # the last ':' before the arguments (a Windows path has one of its own; an argument may hold one)
    head = raw.split("(", 1)[0]
    colon = head.rfind(":")
    module, rest = (raw[:colon], raw[colon + 1:]) if colon >= 0 else ("", raw)
    if colon < 0 or not module.strip() or not rest.strip():
        raise TargetError("expected MODULE:CALLABLE", target=text,
                          hint=f"write {_FORMS}, e.g. torchvision.models:resnet50")
    try:
        tree = ast.parse(rest.strip(), mode="eval").body
    except SyntaxError as exc:
        raise TargetError(f"cannot read '{rest}': {exc.msg}", target=text,
                          hint="arguments are Python literals: numbers, strings, True/False/None, lists, "
                               "tuples, dicts") from None
    call = tree if isinstance(tree, ast.Call) else None
    name_node = call.func if call is not None else tree
    attribute = _dotted(name_node)
    if attribute is None:
        raise TargetError(f"'{rest}' is not a callable's name (optionally with literal arguments)", target=text,
                          hint=f"write {_FORMS}")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if call is not None:
        for node in call.args:
            if isinstance(node, ast.Starred):
                raise TargetError("*args is not accepted: write each argument", target=text)
            args.append(_literal(node, text))
        for keyword in call.keywords:
            if keyword.arg is None:
                raise TargetError("**kwargs is not accepted: write each keyword argument", target=text)
            kwargs[keyword.arg] = _literal(keyword.value, text)
    return Target(raw, module.strip(), attribute, tuple(args), kwargs)


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _literal(node: ast.AST, text: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        shown = ast.unparse(node)
        raise TargetError(f"argument '{shown}' is not a literal", target=text,
                          hint="arguments are Python literals (numbers, strings, True/False/None, lists, tuples, "
                               "dicts); nothing is evaluated") from None


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """`folder` first on sys.path while a target is imported (a file may import its neighbours)."""
    entry = str(folder)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _import_file(target: Target, base: Path | None) -> Any:
    path = Path(target.module).expanduser()
    if not path.is_absolute() and base is not None and (base / path).is_file():
        path = base / path
    if not path.is_file():
        where = f" (relative to {base})" if base is not None and not path.is_absolute() else ""
        raise TargetError(f"no such file: {target.module}{where}", target=target.text,
                          hint="give a path to a .py file, or a dotted module name")
    path = path.resolve()
    # a stable, unique module name per file, so that pickling, dataclasses and re-imports behave
    name = f"convcalc_target_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot import {path}: not a Python source file", target=target.text)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _on_path(path.parent):
            spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise TargetError(f"importing {path} raised {type(exc).__name__}: {exc}", target=target.text) from None
    return module


def _import_module(target: Target) -> Any:
    try:
        with _on_path(Path.cwd()):
            return importlib.import_module(target.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or target.module
        hint = (f"install the package that provides '{missing}', or give a file path (path/to/file.py:callable)"
                if missing.split(".")[0] != target.module.split(".")[0] or missing == target.module
                else None)
        raise TargetError(f"cannot import '{target.module}': no module named '{missing}'", target=target.text,
                          hint=hint) from None
    except Exception as exc:
        raise TargetError(f"importing '{target.module}' raised {type(exc).__name__}: {exc}",
                          target=target.text) from None


def load_callable(target: Target, base: Path | None = None) -> Any:
    """The callable a target names (its module imported, nothing called)."""
    module = _import_file(target, base) if target.is_file else _import_module(target)
    obj: Any = module
    walked: list[str] = []
    for part in target.attribute.split("."):
        if not hasattr(obj, part):
            where = ".".join(walked) or (target.module if not target.is_file else Path(target.module).name)
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            raise TargetError(f"'{where}' has no attribute '{part}'", target=target.text,
                              hint=f"did you mean {' or '.join(close)}?" if close else None)
        obj = getattr(obj, part)
        walked.append(part)
    if not callable(obj):
        raise TargetError(f"'{target.attribute}' is a {type(obj).__name__}, not something to call",
                          target=target.text, hint="name a function or class that returns a torch.nn.Module")
    return obj


def load_module(text: str | Target, base: Path | None = None, device: str | None = None) -> "nn.Module":
    """Import and call a target; the result must be a torch.nn.Module.

    `base`: the folder a relative file path is read from first (a spec's folder for its `against:`).
    `device`: create the module's tensors there if the callable allows it (torch's device context);
    'meta' builds without memory or initialisation, which is all an import needs. A callable that
    fails there (it computes with its tensors) is called again on the default device.
    """
    import torch

    target = parse_target(text) if isinstance(text, str) else text
    factory = load_callable(target, base)
    if device is not None:
        try:
            with torch.device(device):
                module = factory(*target.args, **target.kwargs)
            if isinstance(module, torch.nn.Module):
                return module
        except Exception:  # noqa: BLE001 - tried once more below, where its error is the one reported
            pass
    try:
        module = factory(*target.args, **target.kwargs)
    except Exception as exc:
        shown = f"{target.attribute}({_arguments(target)})"
        raise TargetError(f"calling {shown} raised {type(exc).__name__}: {exc}", target=target.text) from None
    if not isinstance(module, torch.nn.Module):
        raise TargetError(f"{target.attribute}(...) returned a {type(module).__name__}, not a torch.nn.Module",
                          target=target.text, hint="name a function or class that returns the model")
    return module


def _arguments(target: Target) -> str:
    parts = [repr(a) for a in target.args] + [f"{k}={v!r}" for k, v in target.kwargs.items()]
    return ", ".join(parts)


__all__ = ["Target", "TargetError", "load_callable", "load_module", "parse_target"]
