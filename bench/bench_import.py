"""Cost of `convcalc import` against the bare cost of getting the model in PyTorch at all.

    python bench/bench_import.py [--runs 5]

Bare: a fresh interpreter that imports torch and builds ResNet-50 (torchvision's when torchvision
imports, else the same network written by hand in a file), as anyone using the model must. Import: a
fresh `convcalc import torchvision.models:resnet50 --input 1x3x224x224 -o FILE` (or the file's
`ResNet50`), which also imports convcalc, builds the model, traces it with torch.fx, maps every node,
folds the blocks, writes the YAML and analyses what it wrote. No forward pass runs in either.
Reports best and median wall time of each and the ratio of best times. Target: at most 1.5x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_validate import BARE  # noqa: E402  (ResNet-50 by hand, torchvision's structure)

# the hand-written ResNet-50 as a model file: its classes, without the script that runs it
MODEL_FILE = BARE.split("torch.manual_seed(0)")[0]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target", type=float, default=1.5)
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_COLOR"] = "1"
    import convcalc

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(convcalc.__file__).parent)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="convcalc-bench-import-"))
    try:
        import torchvision  # noqa: F401

        target = "torchvision.models:resnet50"
        bare = "import torch, torchvision; torchvision.models.resnet50()"
        label = "torchvision's ResNet-50"
    except Exception:  # noqa: BLE001 - any failure: no torchvision here
        (work / "resnet50_by_hand.py").write_text(MODEL_FILE)
        target = f"{work / 'resnet50_by_hand.py'}:ResNet50"
        bare = f"import sys; sys.path.insert(0, {str(work)!r}); import torch, resnet50_by_hand as m; m.ResNet50()"
        label = "ResNet-50 written by hand (torchvision does not import here)"
    commands = {
        "bare: import torch, build the model": [sys.executable, "-c", bare],
        "convcalc import": [sys.executable, "-m", "convcalc", "import", target, "--input", "1x3x224x224",
                            "-o", str(work / "resnet50.yaml")],
    }
    results: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so that drifting machine load hits both alike
        for name, cmd in commands.items():
            results[name].append(timed(cmd, env))
    imported = convcalc.analyze(work / "resnet50.yaml")
    if imported.totals["params"] != 25_557_032:
        raise SystemExit(f"the imported spec has {imported.totals['params']} parameters, not ResNet-50's 25,557,032")
    floor = min(results["bare: import torch, build the model"])
    print(f"{label}, best of {args.runs} (torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')})")
    print(f"{'command':40} {'best':>8} {'median':>8} {'ratio':>6}")
    for name, times in results.items():
        print(f"{name:40} {min(times):7.2f}s {statistics.median(times):7.2f}s {min(times) / floor:5.2f}x")
    ratio = min(results["convcalc import"]) / floor
    print(f"import / bare = {ratio:.2f}x (target <= {args.target}x): {'OK' if ratio <= args.target else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
