"""Write the shell completion scripts in this folder from convcalc's command line.

    python completions/generate.py          # rewrite convcalc.bash, _convcalc (zsh), convcalc.fish
    python completions/generate.py --check  # exit 1 if any of them is out of date

Run it after adding or changing a command, an option or a built-in architecture; the test suite fails
until the scripts match the command line again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from convcalc.cli import app
from convcalc.cli.ecosystem_cmd import SCRIPT_NAMES, completion_script

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for shell, file_name in SCRIPT_NAMES.items():
        path = HERE / file_name
        text = completion_script(shell, app)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if check and stale:
        print("out of date: " + ", ".join(str(p) for p in stale) + " (run python completions/generate.py)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
