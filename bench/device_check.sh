#!/usr/bin/env bash
# `convcalc validate` on a GPU: a few specs with --device cuda in float32 and float16, with timings.
#
#   bash bench/device_check.sh --prepare   # here: copy the CLI's pure-Python deps to build/device_deps
#   bash bench/device_check.sh             # on the GPU machine, from the repo root (carry build/device_deps)
#
# The GPU machine has torch but maybe not typer, rich or PyYAML (and no network): --prepare copies them
# from this environment into build/device_deps (git-ignored), which the run puts on PYTHONPATH after
# the repository. fvcore is not needed: validate reports its check as skipped when it is missing.
# Each run's JSON report goes to $OUT (when set) for a closer look.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu: a dry run of this script on a machine without a GPU
DEPS=build/device_deps

if [[ "${1:-}" == "--prepare" ]]; then
    rm -rf "$DEPS" && mkdir -p "$DEPS"
    "$PY" - "$DEPS" <<'EOF'
import shutil, sys, sysconfig
from pathlib import Path
import convcalc.cli, convcalc.cli.validate_cmd, rich.progress, rich.table, rich.markdown, rich.syntax, yaml  # noqa
target = Path(sys.argv[1])
site = Path(sysconfig.get_paths()["purelib"])
names = {m.split(".")[0] for m, mod in list(sys.modules.items())
         if str(getattr(mod, "__file__", "") or "").startswith(str(site))}
names -= {"_distutils_hack", "convcalc"}
for name in sorted(names):
    src = site / name
    if src.is_dir():
        shutil.copytree(src, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    elif (site / f"{name}.py").is_file():
        shutil.copy2(site / f"{name}.py", target)
print("copied:", ", ".join(sorted(names)))
EOF
    du -sh "$DEPS"
    exit 0
fi

export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}:$(pwd)/$DEPS"
export NO_COLOR=1
DEVICE=$DEVICE "$PY" - <<'EOF' || exit 1
import os
import torch
print(f"torch {torch.__version__}; CUDA available: {torch.cuda.is_available()}")
if os.environ["DEVICE"].startswith("cuda"):
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: nothing to check")
    print(f"device: {torch.cuda.get_device_name(0)}, {torch.cuda.mem_get_info()[1] / 2**30:.0f} GiB")
try:
    import fvcore  # noqa: F401
    print("fvcore: installed")
except ImportError:
    print("fvcore: not installed (its check is reported as skipped)")
EOF

# spec | extra options; the first run pays CUDA's start-up, so a tiny spec goes first
RUNS=(
    "specs/examples/unet_tiny.yaml|--rf"
    "specs/resnet50.yaml|--rf"
    "specs/mobilenet_v2.yaml|"
    "specs/unet.yaml|"
    "specs/c3d.yaml|"
)
failures=0
printf '%-32s %-9s %-4s %8s  %s\n' "spec" "dtype" "exit" "wall" "verdict"
for entry in "${RUNS[@]}"; do
    spec=${entry%%|*}
    extra=${entry#*|}
    for dtype in float32 float16; do
        [[ -f "$spec" ]] || { echo "missing $spec"; continue; }
        opts=$extra
        [[ "$dtype" == float16 ]] && opts=""  # the probe runs in float64 anyway: once per spec is enough
        report=$(mktemp)
        start=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$PY" -m convcalc validate "$spec" --device "$DEVICE" --dtype "$dtype" $opts --format json >"$report" 2>"$report.err"
        rc=$?
        wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
        verdict=$("$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); t=d['timings']; print(d['verdict'], '|', ', '.join(f'{k} {v:.2f}s' for k, v in t.items()))" "$report" 2>/dev/null || head -c 300 "$report.err")
        printf '%-32s %-9s %-4s %7.2fs  %s\n' "$spec" "$dtype" "$rc" "$wall" "$verdict"
        if [[ $rc -ne 0 ]]; then
            failures=$((failures + 1))
            "$PY" -c "import json,sys; [print('   ', l) for l in json.load(open(sys.argv[1]))['diff'][:10]]" "$report" 2>/dev/null \
                || sed 's/^/    /' "$report.err" | head -20
        fi
        if [[ -n "${OUT:-}" ]]; then
            name=$(basename "$spec" .yaml)
            cp "$report" "$OUT/${name}_${dtype}.json"
            cp "$report.err" "$OUT/${name}_${dtype}.stderr"
        fi
        rm -f "$report" "$report.err"
    done
done
echo "runs with a non-zero exit: $failures"
exit $((failures > 0))
