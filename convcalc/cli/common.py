"""What every command shares: global options, reading a spec from the command line, errors -> exit codes."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import typer

from convcalc.errors import ConvcalcError, SpecError

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from convcalc.analysis.core import Analysis

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_INVALID = 2


@dataclass
class GlobalState:
    no_color: bool = False
    quiet: bool = False
    debug: bool = False
    # the rich table even on a pipe, for those who set FORCE_COLOR (rich's own convention)
    force_rich: bool = bool(os.environ.get("FORCE_COLOR"))


state = GlobalState()


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


# -- shell completion of values (Typer's dynamic completion; the static scripts in completions/ are
# generated from the same declarations). Run on every TAB press: no torch, no spec parsing.
def arch_choices() -> list[str]:
    """Built-in architecture names and their aliases, cheaply (file names, not parsed specs)."""
    try:
        from convcalc import archs
    except ImportError:  # the archs module is optional for completion
        return []
    names = list(archs.arch_names()) if hasattr(archs, "arch_names") else [a.name for a in archs.list_archs()]
    aliases = getattr(archs, "ALIASES", {})
    return names + sorted(a for a, target in aliases.items() if target in names and a not in names)


def complete_arch(incomplete: str) -> list[str]:
    return [name for name in arch_choices() if name.startswith(incomplete.lower())]


def complete_spec(incomplete: str) -> list[str]:
    """Spec files (*.yaml, *.yml) and folders to descend into."""
    folder, _, stem = incomplete.rpartition("/")
    base = Path(folder + "/" if folder else ".")
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.name.startswith(stem) or (entry.name.startswith(".") and not stem.startswith(".")):
            continue
        shown = (folder + "/" if folder else "") + entry.name
        if entry.is_dir():
            found.append(shown + "/")
        elif entry.suffix.lower() in (".yaml", ".yml"):
            found.append(shown)
    return found


# -- shared option types (Annotated, so every command spells them the same way) -----------------------
SourcesArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        help="A YAML spec file, or one or more PyTorch-style layer expressions like \"Conv2d(3, 64, 7, stride=2)\".",
        show_default=False, autocompletion=complete_spec,
    ),
]
ArchOpt = Annotated[
    Optional[str],
    typer.Option("--arch", "-a", help="A built-in architecture (see `convcalc archs`).", show_default=False,
                 autocompletion=complete_arch),
]
InputOpt = Annotated[
    Optional[str],
    typer.Option("--input", "-i", help="Input shape N,C,*spatial, e.g. 1x3x224x224 (overrides the spec's).",
                 show_default=False),
]
ModuleOpt = Annotated[
    Optional[str],
    typer.Option("--module", "-m", help="A PyTorch model instead of a spec: package.module:callable(kw=value) or "
                 "path/to/file.py:callable, imported as `convcalc import` does (needs --input).",
                 show_default=False),
]
SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", help="Set a spec parameter, e.g. --set alpha=0.5 (repeatable).", show_default=False),
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
]


def make_console(stderr: bool = False) -> "Console":
    from rich.console import Console

    no_color = state.no_color or bool(os.environ.get("NO_COLOR"))
    return Console(stderr=stderr, no_color=no_color, highlight=False, soft_wrap=False)


def fail(message: str, code: int = EXIT_INVALID) -> "typer.Exit":
    """Print one clean error line (or block) to stderr and return the Exit to raise."""
    no_color = state.no_color or bool(os.environ.get("NO_COLOR")) or not sys.stderr.isatty()
    prefix = "error: " if no_color else "\x1b[1;31merror:\x1b[0m "
    sys.stderr.write(prefix + message.rstrip() + "\n")
    return typer.Exit(code)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn convcalc's own errors into a message and exit code 2; anything else stays a bug."""
    try:
        yield
    except SpecError as exc:
        if state.debug:
            raise
        raise fail(str(exc)) from None
    except ConvcalcError as exc:
        if state.debug:
            raise
        raise fail(str(exc)) from None


_SHAPE_SPLIT = re.compile(r"[x×,\s]+")


def parse_shape(text: str) -> tuple[int, ...]:
    cleaned = text.strip().strip("[]()")
    parts = [p for p in _SHAPE_SPLIT.split(cleaned) if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise SpecError(f"--input must look like 1x3x224x224, got {text!r}",
                        hint="N x C x spatial dims, separated by x or commas") from None
    if not 2 <= len(shape) <= 5 or any(s < 1 for s in shape):
        raise SpecError(f"--input must be N,C plus 0 to 3 spatial dims of positive sizes, got {text!r}",
                        hint="e.g. --input 1x3x224x224")
    return shape


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    import yaml

    values: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise SpecError(f"--set expects NAME=VALUE, got {item!r}", hint="e.g. --set alpha=0.75")
        key, _, raw = item.partition("=")
        try:
            values[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            values[key.strip()] = raw
    return values


def load_analysis(sources: list[str] | None, arch: str | None, input_text: str | None,
                  sets: list[str] | None, module: str | None = None) -> "Analysis":
    """Resolve the command line's spec source (file, expressions, --arch or --module) and analyse it."""
    if module is not None:
        if sources or arch:
            raise SpecError("give either a spec (file, layer expressions or --arch) or --module, not both")
        if sets:
            raise SpecError("--set applies to spec parameters; a --module model has none",
                            hint="pass the model's arguments in the target: --module \"pkg.mod:fn(width=2)\"")
        if not input_text:
            raise SpecError("--module needs --input", hint="e.g. --input 1x3x224x224")
        from convcalc.torch_backend.importer import import_target  # torch only on this path

        return import_target(module, parse_shape(input_text), against=None).analysis
    from convcalc.analysis.core import analyze

    return analyze(resolve_spec(sources, arch, input_text, sets),
                   input_shape=parse_shape(input_text) if input_text else None)


def resolve_spec(sources: list[str] | None, arch: str | None, input_text: str | None,
                 sets: list[str] | None) -> Any:
    """The spec the command line names, ready for `analyze` (a Spec, a path or a mapping)."""
    from convcalc.spec.inline import looks_like_expression, spec_from_expressions

    overrides = parse_sets(sets)
    sources = sources or []
    if arch and sources:
        raise SpecError("give either a spec (file or layer expressions) or --arch, not both")
    if arch:
        from convcalc.archs import load_arch

        return load_arch(arch, overrides)
    if not sources:
        raise SpecError("no spec given", hint="pass a YAML spec file, layer expressions, or --arch NAME "
                        "(e.g. convcalc summary --arch resnet18)")
    if all(looks_like_expression(s) for s in sources):
        if overrides:
            raise SpecError("--set applies to spec parameters; layer expressions have none")
        if not input_text:
            raise SpecError("layer expressions need --input", hint="e.g. --input 1x3x224x224")
        return spec_from_expressions(sources, None)
    if len(sources) > 1:
        raise SpecError(f"expected one spec file, got {len(sources)} arguments: {' '.join(sources)}",
                        hint="quote each layer expression, e.g. \"Conv2d(3, 8, 3)\"")
    from convcalc.spec.expand import load_spec

    path = Path(sources[0])
    if not path.exists():
        raise SpecError(f"spec file not found: {path}",
                        hint="pass a .yaml file, a quoted layer expression like \"Conv2d(3, 8, 3)\", or --arch NAME")
    if path.is_dir():
        raise SpecError(f"{path} is a folder; pass one spec file (`convcalc check` takes folders)")
    return load_spec(path, overrides)


def write_output(text: str, output: Path | None) -> None:
    """Text to stdout, or to `output` (a clean exit-2 message when the file cannot be written)."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror or exc}") from None
