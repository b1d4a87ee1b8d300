"""`convcalc import`: a PyTorch model (a callable that returns an nn.Module) written as a convcalc spec.

Nothing here imports torch at import time; the command imports convcalc.torch_backend when it runs.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from convcalc.cli.app import app
from convcalc.cli.common import parse_shape, state, user_errors, write_output

class SpecFormat(str, Enum):
    yaml = "yaml"
    json = "json"


TargetArg = Annotated[str, typer.Argument(
    help="The model: package.module:callable, package.module:callable(kw=value, ...) with literal arguments, "
         "or path/to/file.py:callable. It is called with those arguments and must return a torch.nn.Module.",
    show_default=False)]


@app.command(name="import")
def import_command(
    target: TargetArg,
    input_text: Annotated[str, typer.Option(
        "--input", "-i", help="Input shape N,C,*spatial, e.g. 1x3x224x224 (the spec's `input:`).",
        show_default=False)],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write the spec to FILE (default: standard output).", show_default=False,
        dir_okay=False)] = None,
    blocks: Annotated[bool, typer.Option(
        "--blocks/--flat", help="Fold repeated module structures into parameterised blocks, or list every "
        "layer.")] = True,
    against: Annotated[bool, typer.Option(
        "--against/--no-against", help="Record the target as the spec's `against:`, so that `convcalc "
        "check` proves the spec against the code.")] = True,
    name: Annotated[Optional[str], typer.Option(
        "--name", help="The spec's name (default: the callable's).", show_default=False)] = None,
    fmt: Annotated[SpecFormat, typer.Option(
        "--format", "-f", help="yaml (one line per layer, as hand-written specs are) or json (the same "
        "spec as data).", case_sensitive=False)] = SpecFormat.yaml,
) -> None:
    """Trace a PyTorch model with torch.fx and write it as a convcalc spec.

    One layer per module call or tensor operation, named like the model's modules (state_dict keys
    match); repeated structures become blocks. Anything that has no layer type is listed, all at once,
    and nothing is written (exit 2).

    Example: [bold]convcalc import torchvision.models:resnet50 --input 1x3x224x224 -o resnet50.yaml[/]
    """
    with user_errors():
        shape = parse_shape(input_text)
        from convcalc.torch_backend.importer import import_target

        recorded = _against_text(target, output) if against else None
        result = import_target(target, shape, name=name, blocks=blocks, against=recorded)
    write_output(result.text if fmt is SpecFormat.yaml else json.dumps(result.spec, indent=2) + "\n", output)
    if not state.quiet:
        totals = result.analysis.totals
        where = f"wrote {output}" if output is not None else "imported"
        sys.stderr.write(f"{where}: {result.analysis.name}, {len(result.analysis.layers)} layers, "
                         f"{totals['params']:,} params, output {list(result.analysis.output_shape)}\n")


def _against_text(target: str, output: Path | None) -> str:
    """The target as the written spec should name it: a relative file path relative to the spec's folder
    (where `against:` is read from), so that the spec and the code can move together."""
    from convcalc.torch_backend.targets import parse_target

    parsed = parse_target(target)
    if not parsed.is_file or output is None or Path(parsed.module).expanduser().is_absolute():
        return target.strip()
    path = Path(parsed.module).expanduser().resolve()
    relative = os.path.relpath(path, output.resolve().parent)
    return target.strip().replace(parsed.module, Path(relative).as_posix(), 1)
