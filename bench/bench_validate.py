"""Cost of `convcalc validate` against the bare cost of running the same network in PyTorch by hand.

    python bench/bench_validate.py [--runs 5] [--arch resnet50] [--resolution 224]

Bare: a fresh interpreter that imports torch, builds ResNet-50 written by hand in plain PyTorch (as
torchvision defines it; the bench checks it has the spec's parameter count) and runs one forward pass
in eval mode under no_grad. Validate: a fresh `convcalc validate --arch resnet50 --no-fvcore`, which
also parses and analyses the spec, estimates memory, counts FLOPs with FlopCounterMode, records every
layer's shape by hooks, compares everything and prints the report. The fvcore cross-check (a second,
traced pass) is excluded from the ratio and timed on its own line for reference.
Reports best and median wall time of each and the ratio of best times. Target: under 1.5x.
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

# ResNet-50 by hand, the ordinary PyTorch way (torchvision's structure, v1.5: stride on the 3x3).
BARE = r'''
import sys, torch
from torch import nn

class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        width, cout = planes, planes * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False); self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False); self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False); self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))

class ResNet50(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False); self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True); self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], 64
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            stage = []
            for i in range(blocks):
                stage.append(Bottleneck(cin, planes, stride if i == 0 else 1)); cin = planes * 4
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1); self.fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

torch.manual_seed(0)
model = ResNet50().eval()
resolution = int(sys.argv[1])
with torch.no_grad():
    out = model(torch.randn(1, 3, resolution, resolution))
print(sum(p.numel() for p in model.parameters()), list(out.shape))
'''


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], str]:
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n"
                             f"{proc.stderr}{proc.stdout}")
        out = proc.stdout
    return times, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--target", type=float, default=1.5)
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_COLOR"] = "1"
    import convcalc

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(convcalc.__file__).parent)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    validate = [sys.executable, "-m", "convcalc", "validate", "--arch", "resnet50",
                "--set", f"resolution={args.resolution}"]
    commands = {
        "bare: import torch, build by hand, forward": [sys.executable, "-c", BARE, str(args.resolution)],
        "convcalc validate --no-fvcore": validate + ["--no-fvcore"],
        "convcalc validate --no-flops": validate + ["--no-flops"],
        "convcalc validate (with fvcore, reference)": validate,
    }
    results: dict[str, list[float]] = {}
    outputs: dict[str, str] = {}
    # interleave the commands, so that drifting machine load hits all of them alike
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times, out = timed(cmd, 1, env)
            results.setdefault(name, []).extend(times)
            outputs[name] = out
    bare_params = int(outputs["bare: import torch, build by hand, forward"].split()[0])
    analytic = convcalc.analyze(ROOT / "specs" / "resnet50.yaml", params={"resolution": args.resolution})
    if bare_params != analytic.totals["params"]:
        raise SystemExit(f"the hand-written ResNet-50 has {bare_params} parameters, the spec "
                         f"{analytic.totals['params']}: not the same network")
    floor = min(results["bare: import torch, build by hand, forward"])
    print(f"ResNet-50 at {args.resolution}x{args.resolution}, batch 1, CPU float32, best of {args.runs} "
          f"(torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')})")
    print(f"{'command':44} {'best':>8} {'median':>8} {'ratio':>6}")
    for name, times in results.items():
        print(f"{name:44} {min(times):7.2f}s {statistics.median(times):7.2f}s {min(times) / floor:5.2f}x")
    ratio = min(results["convcalc validate --no-fvcore"]) / floor
    verdict = "OK" if ratio < args.target else "OVER TARGET"
    print(f"validate (fvcore excluded) / bare = {ratio:.2f}x (target < {args.target}x): {verdict}")
    footer = [line for line in outputs["convcalc validate --no-fvcore"].splitlines()
              if line.startswith("cpu")]
    if footer:
        print("validate's own breakdown:", footer[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
