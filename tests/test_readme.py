"""The README's console examples print what the README says they print.

Every ```console block whose commands are analytic convcalc commands (no timings involved) is run
again; a README that drifts from the tool fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DETERMINISTIC = {"shape", "params", "flops", "rf", "summary", "explain", "transpose", "compare", "archs", "layers"}


def _examples() -> list[tuple[str, str]]:
    found = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        lines = block.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
        for n, i in enumerate(starts):
            command = lines[i][2:]
            end = starts[n + 1] if n + 1 < len(starts) else len(lines)
            words = shlex.split(command.split("|")[0])
            if words[0] != "convcalc" or len(words) < 2 or words[1] not in DETERMINISTIC:
                continue
            expected = "\n".join(lines[i + 1:end])
            # excerpts ("... left out") and files the README only shows in part are not re-run
            if not expected.strip() or "left out" in expected or any(
                    w.endswith(".yaml") and w != "bad.yaml" and not (ROOT / w).exists() for w in words):
                continue
            found.append((command, expected))
    return found


EXAMPLES = _examples()


def test_readme_has_console_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example_output(command: str, expected: str, tmp_path: Path) -> None:
    if "bad.yaml" in command:
        (tmp_path / "bad.yaml").write_text(
            "input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3, groups: 2}\n")
    env = dict(os.environ, COLUMNS="100")
    env.pop("FORCE_COLOR", None)
    shell = command.replace("convcalc ", f"{shlex.quote(sys.executable)} -m convcalc ", 1)
    cwd = tmp_path if "bad.yaml" in command else ROOT
    if cwd != ROOT:
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(["bash", "-c", shell + " 2>&1"], capture_output=True, text=True, cwd=cwd, env=env)
    got = proc.stdout.rstrip("\n")
    assert got == expected.rstrip("\n"), f"README example drifted: {command}\n--- got ---\n{got}"
