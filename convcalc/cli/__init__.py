"""The `convcalc` command line: a thin layer over the Python API.

Each command module registers its commands on the shared Typer app when imported. None of them imports
torch at module level, so `convcalc shape` starts fast.
"""

from __future__ import annotations

import sys

from convcalc.cli.app import app, single_command_app
from convcalc.cli import analytic  # noqa: F401,E402  (registers commands)


def main() -> None:
    (single_command_app(sys.argv[1:]) or app)()


__all__ = ["app", "main"]
