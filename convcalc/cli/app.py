"""The Typer application object; command modules attach their commands to it."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="convcalc",
    help="Shapes, parameters, MACs/FLOPs and receptive fields of CNNs — computed analytically, proven in PyTorch.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
