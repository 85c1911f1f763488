#!/usr/bin/env bash
# The GPU checks of docs/engines.md on a fresh GPU machine, in at most 8 minutes (the stages' time limits add up
# to 480 s), every result under one folder:
#   scripts/gpu-check.sh [OUT_FOLDER]        (default: $OUT, else gpu-check/)
# env.txt (device, torch, date), gpu_tests.log (tests/test_gpu.py: captured vs eager, resume under capture, no host
# sync, the penalty core and evaluation on CUDA), profile.json (one CIFAR-10 iteration per engine),
# sharing_h200.json, suite_cost_h200.{md,json} and cost.log (gpbench cost of configs/paper.yaml, eager and graph
# side by side, then K runs per GPU measured and the projection made from both). Wheels in .whl/ (torch-fidelity, mlxtend) are installed first where the
# machine lacks them. Exit 1 when any stage failed; every stage runs regardless. GPU_CHECK_SUITE=configs/tiny.yaml
# rehearses the script's plumbing in a minute (on a CPU the GPU tests skip and the profile stage fails).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-gpu-check}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpbench-site \
        .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/gpbench-site"
fi
gpbench=(python3 -c 'import sys; from gpbench.cli import main; sys.exit(main(sys.argv[1:]))')
{ date -u +%Y-%m-%dT%H:%MZ; nvidia-smi -L; nproc; python3 -c 'import torch; print("torch", torch.__version__)'; } \
    > "$out/env.txt" 2>&1
status=0
stage() { local name=$1; shift; local start=$SECONDS; "$@" || { echo "FAILED: $name" >> "$out/env.txt"; status=1; }
          echo "$name: $((SECONDS - start)) s" >> "$out/env.txt"; }
parallel=$(python3 -c 'import xdist' 2> /dev/null && echo "-n 8")      # 8 test processes share the GPU
stage tests timeout 170 python3 -m pytest -v -rA $parallel -p no:cacheprovider tests/test_gpu.py > "$out/gpu_tests.log" 2>&1
suite=${GPU_CHECK_SUITE:-configs/paper.yaml}
stage cost timeout 180 "${gpbench[@]}" cost --suite "$suite" --engines eager graph --budget-seconds 0.3 \
    --min-iterations 10 --max-iterations 200 --json "$out/suite_cost_h200.json" >> "$out/cost.log" 2>&1
stage sharing timeout 100 "${gpbench[@]}" cost --suite "$suite" --from-json "$out/suite_cost_h200.json" \
    --sharing 1 2 4 --sharing-seconds 2 --sharing-json "$out/sharing_h200.json" --out "$out/suite_cost_h200.md" \
    >> "$out/cost.log" 2>&1
stage profile timeout 30 python3 scripts/profile_iteration.py --out "$out/profile.json" > /dev/null 2>> "$out/cost.log"
exit $status
