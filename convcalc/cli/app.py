"""The Typer application object; command modules attach their commands to it."""

from __future__ import annotations

from typing import Any

import typer

APP_SETTINGS: dict[str, Any] = dict(
    name="convcalc",
    help="Shapes, parameters, MACs/FLOPs and receptive fields of CNNs — computed analytically, proven in PyTorch.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

app = typer.Typer(**APP_SETTINGS)


def single_command_app(argv: list[str]) -> typer.Typer | None:
    """A copy of `app` holding only the command that argv names, or None when argv names none.

    Typer builds every command's parameters on each start; with one command built, an analytic
    command starts measurably faster. Behaviour is the same: same callback, same command object.
    """
    if not argv or argv[0].startswith("-"):
        return None
    matches = [info for info in app.registered_commands if _command_name(info) == argv[0]]
    if len(matches) != 1 or app.registered_groups:
        return None
    lean = typer.Typer(**APP_SETTINGS)
    lean.registered_callback = app.registered_callback
    lean.registered_commands = matches
    return lean


def _command_name(info: Any) -> str:
    if info.name:
        return str(info.name)
    return str(info.callback.__name__).lower().replace("_", "-")
