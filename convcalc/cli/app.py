"""The Typer application object; command modules attach their commands to it."""

from __future__ import annotations

import copy
import inspect
import re
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


# The global flags (the callback's options). Users also type them after the command
# (`convcalc summary net.yaml --quiet`), where click would reject them, so `hoist_global_flags` moves them
# in front of it. No command may define an option of the same name (a test checks).
GLOBAL_FLAGS = ("--version", "-V", "--no-color", "--quiet", "-q", "--debug")


def hoist_global_flags(argv: list[str]) -> list[str]:
    """argv with every global flag that follows the command moved before it (nothing moves after `--`)."""
    front: list[str] = []
    rest: list[str] = []
    command_seen = False
    for i, arg in enumerate(argv):
        if arg == "--":
            rest += argv[i:]
            break
        if command_seen and arg in GLOBAL_FLAGS:
            front.append(arg)
            continue
        command_seen = command_seen or not arg.startswith("-")
        rest.append(arg)
    if not front:
        return argv
    command = next((i for i, a in enumerate(rest) if not a.startswith("-")), len(rest))
    return rest[:command] + front + rest[command:]


def single_command_app(argv: list[str], plain: bool = False) -> typer.Typer | None:
    """A copy of `app` holding only the command that argv names, or None when argv names none.

    Typer builds every command's parameters on each start; with one command built, an analytic
    command starts measurably faster. Behaviour is the same: same callback, same command object.
    """
    if not argv or argv[0].startswith("-"):
        return None
    matches = [info for info in app.registered_commands if _command_name(info) == argv[0]]
    if len(matches) != 1 or app.registered_groups:
        return None
    return _copy_app(matches, plain)


def plain_help_app() -> typer.Typer:
    """`app` with plain-text help, for output that is not a terminal."""
    return _copy_app(list(app.registered_commands), plain=True)


_MARKUP = re.compile(r"\[/?(?:bold|dim|italic)?\]")


def _copy_app(commands: list[Any], plain: bool) -> typer.Typer:
    settings = dict(APP_SETTINGS)
    if plain:
        # Piped help is plain text: rich's help renderer would cost more than the command itself.
        settings["rich_markup_mode"] = None
        commands = [_plain_info(info) for info in commands]
    lean = typer.Typer(**settings)
    lean.registered_callback = app.registered_callback
    lean.registered_commands = commands
    return lean


def _plain_info(info: Any) -> Any:
    plain = copy.copy(info)
    text = info.help if info.help is not None else inspect.getdoc(info.callback)
    plain.help = _MARKUP.sub("", text) if text else text
    return plain


def _command_name(info: Any) -> str:
    if info.name:
        return str(info.name)
    return str(info.callback.__name__).lower().replace("_", "-")
