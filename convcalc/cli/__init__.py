"""The `convcalc` command line: a thin layer over the Python API.

Each command module registers its commands on the shared Typer app when imported. None of them imports
torch at module level, so `convcalc shape` starts fast.
"""

from __future__ import annotations

from convcalc.cli.app import app
from convcalc.cli import analytic  # noqa: F401,E402  (registers commands)


def main() -> None:
    app()


__all__ = ["app", "main"]
