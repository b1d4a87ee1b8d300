"""Start-up benchmark of the analytic CLI against the floor of `python -c "import typer, rich, yaml"`.

    python bench/bench_cli.py [--runs 20]

Each command runs in a fresh interpreter (as a user runs it), output to a pipe. Reports the best and
median wall time of each and the ratio of best times to the floor. Target: under 1.5x.
Bytecode is compiled first so an editable checkout is measured as an installed package would be.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "specs" / "examples" / "small_net.yaml"

COMMANDS: dict[str, list[str]] = {
    "floor: import typer, rich, yaml": [sys.executable, "-c", "import typer, rich, yaml"],
    "convcalc summary <example>": [sys.executable, "-m", "convcalc", "summary", str(EXAMPLE)],
    "convcalc shape <expressions>": [sys.executable, "-m", "convcalc", "shape",
                                     "Conv2d(3, 64, 7, stride=2, padding=3)", "MaxPool2d(3, 2, padding=1)",
                                     "--input", "1x3x224x224"],
    "convcalc shape --help": [sys.executable, "-m", "convcalc", "shape", "--help"],
}


def timed(cmd: list[str], runs: int) -> list[float]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--target", type=float, default=1.5)
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    import convcalc

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(convcalc.__file__).parent)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    results = {name: timed(cmd, args.runs) for name, cmd in COMMANDS.items()}
    floor = min(next(iter(results.values())))
    print(f"{'command':34} {'best':>8} {'median':>8} {'ratio':>6}")
    worst = 0.0
    for name, times in results.items():
        ratio = min(times) / floor
        if not name.startswith("floor"):
            worst = max(worst, ratio)
        print(f"{name:34} {min(times) * 1000:7.1f}ms {statistics.median(times) * 1000:7.1f}ms {ratio:5.2f}x")
    print(f"worst ratio {worst:.2f}x (target < {args.target}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
