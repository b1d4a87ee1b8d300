"""`convcalc check`: many specs at once for CI (summary, JSON, JUnit XML, exit codes), the project's own
specs/ folder included, and the promise that the CLI starts without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

GOOD = """\
name: good
input: [1, 3, 16, 16]
layers:
  - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, name: c1}
  - {type: BatchNorm2d}
  - {type: ReLU}
  - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {type: Add, inputs: [c1, prev]}
  - {type: MaxPool2d, kernel_size: 2}
expect:
  output_shape: [1, 4, 8, 8]
"""

WRONG_EXPECTATION = """\
name: wrong
input: [1, 3, 16, 16]
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: 3, expect: {params: 200}}
  - {type: Flatten}
expect:
  output_shape: [1, 1568]
"""

BROKEN = """\
name: broken
input: [1, 3, 16, 16]
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: 31}
"""


@pytest.fixture()
def spec_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "specs"
    (folder / "nested").mkdir(parents=True)
    (folder / "good.yaml").write_text(GOOD, encoding="utf-8")
    (folder / "nested" / "good2.yml").write_text(GOOD.replace("name: good", "name: good2"), encoding="utf-8")
    (folder / "notes.txt").write_text("not a spec", encoding="utf-8")
    return folder


def test_check_folder_passes(spec_dir: Path) -> None:
    result = runner.invoke(app, ["check", str(spec_dir)])
    assert result.exit_code == 0, result.output
    assert "OK: all 2 specs agree with PyTorch" in result.stdout
    assert "good.yaml" in result.stdout and "good2.yml" in result.stdout and "notes.txt" not in result.stdout
    assert "PASSED" in result.stdout and "meta · float32" in result.stdout


def test_check_wrong_expectation_fails_with_diff(spec_dir: Path) -> None:
    (spec_dir / "wrong.yaml").write_text(WRONG_EXPECTATION, encoding="utf-8")
    result = runner.invoke(app, ["check", str(spec_dir)])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "FAILED: 1 failed of 3 specs (2 passed)" in out
    assert "wrong.yaml:4:" in out and "layer 'conv2d_1': expected params 200, the analysis gives 224" in out


def test_check_reports_invalid_specs_and_goes_on(spec_dir: Path) -> None:
    (spec_dir / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    result = runner.invoke(app, ["check", str(spec_dir), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["counts"] == {"passed": 2, "failed": 0, "error": 1}
    broken = next(s for s in data["specs"] if s["path"].endswith("broken.yaml"))
    assert broken["status"] == "error" and broken["error_type"] == "SpecError"
    assert "Kernel size can't be greater than actual input size" in broken["error"]
    assert all(s["status"] == "passed" for s in data["specs"] if s is not broken)


def test_check_json_and_junit_xml(spec_dir: Path, tmp_path: Path) -> None:
    (spec_dir / "wrong.yaml").write_text(WRONG_EXPECTATION, encoding="utf-8")
    (spec_dir / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    junit = tmp_path / "out" / "report.xml"
    result = runner.invoke(app, ["check", str(spec_dir), "--format", "json", "--junit-xml", str(junit),
                                 "--device", "cpu"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["device"] == "cpu" and len(data["specs"]) == 4
    assert {s["status"] for s in data["specs"]} == {"passed", "failed", "error"}
    wrong = next(s for s in data["specs"] if s["path"].endswith("wrong.yaml"))
    assert wrong["counts"]["failed"] == 1 and any("expected params 200" in line for line in wrong["diff"])
    assert wrong["counts"]["ok"] > 0  # on the CPU: fvcore was compared too

    root = ET.parse(junit).getroot()  # well-formed XML
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "1" and suite.get("errors") == "1"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert len(cases) == 4 and all(float(case.get("time")) >= 0 for case in cases.values())
    failure = next(c for n, c in cases.items() if n.endswith("wrong.yaml")).find("failure")
    assert failure is not None and "expected params 200" in failure.text
    error = next(c for n, c in cases.items() if n.endswith("broken.yaml")).find("error")
    assert error is not None and error.get("type") == "SpecError"
    assert next(c for n, c in cases.items() if n.endswith("good.yaml")).find("failure") is None


def test_check_files_and_full_mode(spec_dir: Path) -> None:
    result = runner.invoke(app, ["check", str(spec_dir / "good.yaml"), "--full", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["device"] == "auto" and len(data["specs"]) == 1
    assert data["specs"][0]["counts"]["ok"] > 30


def test_check_bad_input_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no such file or folder" in result.stderr
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["check", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "no spec files" in result.stderr
    result = runner.invoke(app, ["check", str(tmp_path), "--device", "tpu"])
    assert result.exit_code == 2 and "unknown device 'tpu'" in result.stderr
    assert "Traceback" not in result.output


def test_project_specs_pass_check() -> None:
    """The project's own specs/ folder, checked the way CI runs it (default path, from the repo root)."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = runner.invoke(app, ["check", "--format", "json"])
    finally:
        os.chdir(cwd)
    data = json.loads(result.stdout)
    failing = {s["path"]: s["diff"] or s.get("error") for s in data["specs"] if s["status"] != "passed"}
    assert result.exit_code == 0 and not failing, failing
    assert len(data["specs"]) >= 10


def test_cli_import_does_not_import_torch() -> None:
    code = ("import sys, convcalc, convcalc.cli, convcalc.cli.validate_cmd, convcalc.torch_backend; "
            "heavy = [m for m in ('torch', 'fvcore') if m in sys.modules]; "
            "assert not heavy, heavy; print('clean')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=False)
    assert proc.returncode == 0 and "clean" in proc.stdout, proc.stderr


def test_validate_subprocess_exit_codes(tmp_path: Path) -> None:
    """The real entry point as CI runs it: exit 1 with the diff on stdout, exit 2 with one error line."""
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(WRONG_EXPECTATION, encoding="utf-8")
    base = [sys.executable, "-m", "convcalc", "validate", str(wrong)]
    env = {**os.environ, "NO_COLOR": "1"}
    bad = subprocess.run(base + ["--no-fvcore"], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=300, check=False)
    assert bad.returncode == 1 and "expected params 200" in bad.stdout and bad.stderr == ""
    invalid = subprocess.run(base + ["--device", "gpu"], capture_output=True, text=True, cwd=ROOT, env=env,
                             timeout=300, check=False)
    assert invalid.returncode == 2 and invalid.stdout == ""
    assert invalid.stderr.startswith("error: unknown device 'gpu'") and "Traceback" not in invalid.stderr
