"""Conventions users expect of a command-line tool, checked for every command.

--version / -V, -h as well as --help, an example in every help text, --quiet, NO_COLOR and --no-color,
output free of escape codes and progress bars when piped, JSON for machines, stable exit codes
(0 ok, 1 mismatch, 2 invalid). Subprocesses with real pipes (and a real pseudo-terminal) stand in
for the user's shell.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from convcalc import __version__
from convcalc.cli import app
from convcalc.cli.app import GLOBAL_FLAGS

ROOT = Path(__file__).resolve().parents[1]
UNET = str(ROOT / "specs" / "examples" / "unet_tiny.yaml")
runner = CliRunner()
ESCAPE = "\x1b"
# SGR colour parameters: foreground, background, bright variants, 256/true colour
COLOUR_SGR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")

TINY = textwrap.dedent("""
    name: tiny
    input: [1, 3, 8, 8]
    layers:
      - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, name: conv}
      - {type: ReLU}
      - {type: Add, inputs: [conv, prev]}
    expect:
      output_shape: [1, 4, 8, 8]
""")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("specs") / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def commands() -> dict[str, Any]:
    group = typer.main.get_command(app)
    return {name: cmd for name, cmd in group.commands.items() if not getattr(cmd, "hidden", False)}


# One typical invocation per command (a new command needs one here, so its conventions get checked).
def invocations(tiny: str) -> dict[str, list[str]]:
    return {
        "shape": ["shape", UNET],
        "params": ["params", UNET],
        "flops": ["flops", UNET],
        "rf": ["rf", UNET],
        "summary": ["summary", UNET],
        "layers": ["layers"],
        "archs": ["archs"],
        "export": ["export", "resnet18"],
        "schema": ["schema"],
        "graph": ["graph", UNET],
        "completions": ["completions", "fish"],
        "validate": ["validate", tiny],
        "check": ["check", tiny],
        "compare": ["compare", "Conv2d(16, 32, 3, padding=1)", "--input", "1x16x8x8"],
        "explain": ["explain", "Conv2d(3, 8, 3, stride=2, padding=1)", "--input", "1x3x9x9"],
        "transpose": ["transpose", "Conv2d(3, 8, 3, stride=2, padding=1)", "--input", "1x3x7x8"],
        "import": ["import", f"{ROOT / 'specs' / 'examples' / 'tiny_resnet.py'}:TinyResNet", "--input", "1x3x32x32"],
    }


def run(args: list[str], env: dict[str, str] | None = None,
        timeout: int = 180) -> subprocess.CompletedProcess[str]:
    """convcalc as a user runs it, stdout and stderr piped (not a terminal)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "COLUMNS", "TERM")}
    return subprocess.run([sys.executable, "-m", "convcalc", *args], capture_output=True, text=True,
                          env={**clean, **(env or {})}, timeout=timeout, cwd=ROOT)


def test_every_command_has_a_checked_invocation(tiny: str) -> None:
    assert set(invocations(tiny)) == set(commands())


# Commands that import torch run in this process (torch loads once), their output captured by the
# test runner, which is no terminal either: the same code path as a pipe.
IN_PROCESS = {"validate", "check", "import"}


def test_piped_output_of_every_command_is_free_of_escape_codes_and_progress_bars(tiny: str) -> None:
    for name, args in invocations(tiny).items():
        if name in IN_PROCESS:
            result = runner.invoke(app, args)
            code, out, err = result.exit_code, result.stdout, result.stderr
        else:
            done = run(args)
            code, out, err = done.returncode, done.stdout, done.stderr
        assert code == 0, (name, err)
        assert out.strip(), name
        for stream in (out, err):
            assert ESCAPE not in stream, (name, stream[:300])
            assert "\r" not in stream, (name, stream[:300])  # a progress bar redraws with \r (or escapes)


def test_piped_errors_are_one_clean_message_with_exit_2() -> None:
    done = run(["summary", "no/such/spec.yaml"])
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: spec file not found: no/such/spec.yaml")
    assert ESCAPE not in done.stderr and "Traceback" not in done.stderr


def test_usage_errors_exit_2() -> None:
    assert runner.invoke(app, ["summary", UNET, "--no-such-option"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
    assert runner.invoke(app, ["graph", UNET, "--format", "png"]).exit_code == 2


def test_exit_1_means_a_mismatch(tmp_path: Path, tiny: str) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(TINY.replace("[1, 4, 8, 8]", "[1, 5, 8, 8]"))
    assert runner.invoke(app, ["summary", str(wrong)]).exit_code == 0  # reported, not fatal
    assert runner.invoke(app, ["summary", str(wrong), "--strict"]).exit_code == 1
    assert runner.invoke(app, ["check", str(wrong)]).exit_code == 1
    assert runner.invoke(app, ["validate", str(wrong)]).exit_code == 1
    assert runner.invoke(app, ["check", tiny]).exit_code == 0


def test_version() -> None:
    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0
        assert result.stdout == f"convcalc {__version__}\n"
    assert run(["--version"]).stdout == f"convcalc {__version__}\n"


def test_short_and_long_help_for_the_app_and_every_command() -> None:
    for flag in ("-h", "--help"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0 and "Usage:" in result.stdout
        for name in commands():
            result = runner.invoke(app, [name, flag])
            assert result.exit_code == 0, (name, result.output)
            assert "Usage:" in result.stdout and name in result.stdout


def test_every_command_help_shows_an_example() -> None:
    for name, command in commands().items():
        assert re.search(rf"Example: .*convcalc {name}\b", command.help or ""), name


def test_quiet_drops_titles_and_totals_wherever_it_is_written() -> None:
    loud = run(["summary", UNET]).stdout
    assert loud.splitlines()[0].startswith("unet-tiny")
    assert "params " in loud.splitlines()[-1]
    for args in (["-q", "summary", UNET], ["summary", UNET, "--quiet"], ["summary", "-q", UNET]):
        quiet = run(args)
        assert quiet.returncode == 0
        lines = quiet.stdout.splitlines()
        assert lines[0].split()[0] == "Layer", args
        assert not lines[-1].startswith("params"), args
        assert quiet.stderr == ""


def test_global_flags_are_the_callbacks_and_no_command_shadows_them() -> None:
    group = typer.main.get_command(app)
    declared = {opt for p in group.params if not p.name.endswith("_completion") for opt in p.opts}
    assert declared == set(GLOBAL_FLAGS)
    for name, command in commands().items():
        for param in command.params:
            assert not set(param.opts) & set(GLOBAL_FLAGS), (name, param.opts)


def test_machine_readable_json_for_every_report_command(tiny: str) -> None:
    not_reports = {"export": "YAML", "schema": "JSON anyway", "graph": "Mermaid, DOT", "completions": "sh"}
    for name, args in invocations(tiny).items():
        if name in not_reports:
            continue
        result = runner.invoke(app, [*args, "--format", "json"])
        assert result.exit_code == 0, (name, result.output)
        json.loads(result.stdout)


def test_no_color_env_and_flag_in_a_terminal(tmp_path: Path) -> None:
    """In a real (pseudo-)terminal the table is coloured; NO_COLOR or --no-color take the colour away."""
    coloured = in_terminal(["summary", UNET])
    assert COLOUR_SGR.search(coloured), "expected colours in a terminal"
    assert "of max" in coloured  # the bars of `summary` in a wide terminal
    assert not COLOUR_SGR.search(in_terminal(["summary", UNET], {"NO_COLOR": "1"}))
    assert not COLOUR_SGR.search(in_terminal(["--no-color", "summary", UNET]))
    assert not COLOUR_SGR.search(in_terminal(["summary", UNET, "--no-color"]))
    error = in_terminal(["summary", "missing.yaml"])
    assert COLOUR_SGR.search(error)
    assert not COLOUR_SGR.search(in_terminal(["summary", "missing.yaml"], {"NO_COLOR": "1"}))


def in_terminal(args: list[str], env: dict[str, str] | None = None) -> str:
    import pty

    clean = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    master, slave = pty.openpty()
    env = {**clean, "COLUMNS": "200", "TERM": "xterm-256color", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "convcalc", *args], stdin=slave, stdout=slave,
                            stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    proc.wait(timeout=120)
    return b"".join(chunks).decode("utf-8", "replace")
