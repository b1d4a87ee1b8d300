"""The `convcalc` command line: a thin layer over the Python API.

Each command module registers its commands on the shared Typer app when imported. None of them imports
torch at module level, so `convcalc shape` starts fast.
"""

from __future__ import annotations

import os
import sys

from convcalc.cli.app import GLOBAL_FLAGS, app, hoist_global_flags, plain_help_app, single_command_app
from convcalc.cli import analytic  # noqa: F401,E402  (registers commands)
from convcalc.cli import archs_cmd  # noqa: F401,E402
from convcalc.cli import validate_cmd  # noqa: F401,E402
from convcalc.cli import ecosystem_cmd  # noqa: F401,E402
from convcalc.cli import understand_cmd  # noqa: F401,E402
from convcalc.cli import import_cmd  # noqa: F401,E402


def main() -> None:
    argv = hoist_global_flags(sys.argv[1:])
    plain = not sys.stdout.isatty() and not os.environ.get("FORCE_COLOR")
    chosen = single_command_app([a for a in argv if a not in GLOBAL_FLAGS], plain)
    (chosen or (plain_help_app() if plain else app))(args=argv)


__all__ = ["app", "main"]
