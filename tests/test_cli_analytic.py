"""The analytic commands, driven as a user drives them: every command and format, and bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc.cli import app

ROOT = Path(__file__).resolve().parents[1]
SMALL = str(ROOT / "specs" / "examples" / "small_net.yaml")
runner = CliRunner()

CONTRACT_LAYER_KEYS = {"name", "type", "inputs", "output_shape", "params", "buffers", "macs", "flops",
                       "receptive_field"}
CONTRACT_TOTAL_KEYS = {"params", "buffers", "macs", "flops", "fvcore_flops", "torch_flops"}


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize("command", ["shape", "params", "flops", "rf", "summary"])
@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_every_command_and_format(command: str, fmt: str) -> None:
    result = invoke(command, SMALL, "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "json":
        data = json.loads(out)
        assert {"name", "input_shape", "layers", "totals"} <= set(data)
        assert all(CONTRACT_LAYER_KEYS <= set(layer) for layer in data["layers"])
        assert {"size", "jump", "start"} <= set(data["layers"][0]["receptive_field"])
        assert CONTRACT_TOTAL_KEYS <= set(data["totals"])
        assert data["totals"]["params"] == 448 + 32 + 2320
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0][0] == "name"
        assert rows[-1][0] == "total"
        assert len(rows) == 2 + 6
    elif fmt == "markdown":
        assert out.splitlines()[2].startswith("| Layer |")
        assert "**total**" in out
    else:
        assert "small-net" in out and "c1" in out


def test_json_matches_python_api() -> None:
    import convcalc

    result = invoke("summary", SMALL, "--format", "json")
    assert json.loads(result.stdout) == json.loads(json.dumps(convcalc.analyze(SMALL).to_dict()))


def test_csv_has_exact_integers_and_table_is_human() -> None:
    spec = ["Conv2d(3, 64, 7, stride=2, padding=3)", "--input", "1x3x224x224"]
    rows = list(csv.DictReader(io.StringIO(invoke("flops", *spec, "-f", "csv").stdout)))
    assert rows[0]["macs"] == str(112 * 112 * 64 * 3 * 49)
    table = invoke("flops", *spec).stdout
    assert "118.0M" in table


def test_inline_expressions_with_positional_and_keyword_args() -> None:
    result = invoke("shape", "Conv2d(3, 64, 7, stride=2, padding=3)", "MaxPool2d(3, 2, padding=1)",
                    "--input", "1x3x224x224", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [layer["output_shape"] for layer in data["layers"]] == [[1, 64, 112, 112], [1, 64, 56, 56]]


def test_inline_expressions_are_never_evaluated() -> None:
    result = invoke("shape", "Conv2d(3, __import__('os').getpid(), 3)", "--input", "1x3x8x8")
    assert result.exit_code == 2
    assert "only literal values" in result.stderr


def test_input_override() -> None:
    data = json.loads(invoke("shape", SMALL, "--input", "2x3x64x64", "-f", "json").stdout)
    assert data["input_shape"] == [2, 3, 64, 64]
    assert data["layers"][-1]["output_shape"] == [2, 16, 32, 32]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["shape", "missing.yaml"], "spec file not found"),
        (["shape", "Conv2d(3, 8, 3)"], "need --input"),
        (["shape", "Cnv2d(3, 8, 3)", "--input", "1x3x8x8"], "did you mean Conv2d"),
        (["shape", "Conv2d(3, 8, 30)", "--input", "1x3x8x8"], "Kernel size can't be greater"),
        (["shape", "Conv2d(3, 8, 3)", "--input", "1xAx8"], "--input must look like"),
        (["shape"], "no spec given"),
    ],
)
def test_bad_input_exits_2_with_one_clean_message(args: list[str], fragment: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_malformed_yaml_file_via_subprocess(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3, groups: 2}\n")
    proc = subprocess.run([sys.executable, "-m", "convcalc", "params", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{bad}:3:" in proc.stderr
    assert "layer 'conv2d_1' (Conv2d)" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_failed_expectation_is_reported_and_strict_exits_1(tmp_path: Path) -> None:
    spec = tmp_path / "exp.yaml"
    spec.write_text("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3,"
                    " expect: {params: 100}}\nexpect: {output_shape: [1, 4, 6, 6]}\n")
    relaxed = invoke("params", str(spec))
    assert relaxed.exit_code == 0
    assert "expected 100, got 112" in relaxed.stderr
    strict = invoke("params", str(spec), "--strict")
    assert strict.exit_code == 1


def test_layers_command_lists_registered_types() -> None:
    data = json.loads(invoke("layers", "-f", "json").stdout)
    types = {row["type"] for row in data}
    assert {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d"} <= types


def test_analytic_path_never_imports_torch() -> None:
    code = ("import sys; from convcalc.cli import app; from typer.testing import CliRunner; "
            f"r = CliRunner().invoke(app, ['summary', {SMALL!r}]); assert r.exit_code == 0, r.output; "
            "print('torch' in sys.modules, 'fvcore' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False False"


def test_piped_help_is_plain_text_without_markup() -> None:
    proc = subprocess.run([sys.executable, "-m", "convcalc", "shape", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "Usage: " in proc.stdout and "Example: convcalc shape" in proc.stdout
    assert "[bold]" not in proc.stdout and "[/]" not in proc.stdout
    assert "╭" not in proc.stdout and "\x1b[" not in proc.stdout


def test_expectations_hold_for_the_specs_own_input_and_are_not_checked_at_another(tmp_path: Path) -> None:
    runner = CliRunner()
    # every built-in expects output_shape [1, 1000] at batch 1: another batch is no failure, and says so
    other = runner.invoke(app, ["params", "--arch", "resnet18", "--input", "2x3x64x64", "--strict"])
    assert other.exit_code == 0, other.output
    assert "not checked at [2, 3, 64, 64]" in other.stderr and "[1, 3, 224, 224]" in other.stderr
    own = runner.invoke(app, ["params", "--arch", "resnet18", "--input", "1x3x224x224", "--strict"])
    assert own.exit_code == 0 and "not checked" not in own.stderr
    # at its own input a wrong expectation still fails
    spec = "input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3}\nexpect: {params: 1}\n"
    path = tmp_path / "s.yaml"
    path.write_text(spec)
    assert runner.invoke(app, ["params", str(path), "--strict"]).exit_code == 1
    assert runner.invoke(app, ["params", str(path), "--strict", "--input", "1x3x9x9"]).exit_code == 0
