#!/usr/bin/env bash
# One allocation on a lent GPU machine: set up from the packed archive (.device, see pack.sh), then fill the
# full-profile run cache with the next uncached runs for MINUTES (default 8) minutes. The device tool's command:
#
#     bash scripts/device/allocate.sh "$OUT" 8          (carry [".device"], timeout_s 600)
#
# Only files under OUT come back (at most 8, 16 MiB each, at most two folders down), so OUT holds a fixed few:
#   runs.tar         every finished record with its outputs (runs/full/<key>.json, .npz), rewritten after each
#                    saved record, so a command killed at its limit still returns all that finished
#                    (runs-2.tar, runs-3.tar only past 15 MiB each)
#   allocation.json  runs, GPU-seconds per run, step times, images/s, TFLOP/s, plan, probes, graph checks
#   allocation.log   this command's output;   gpu.txt   nvidia-smi's card, memory and driver
# Back here:
#     python -m thesis_lib.allocate --import <files_at>     # verifies each record, caches the good ones (exit 1
#     git add results/runs/full                             # names any it refused), then commit them
# Further arguments go to python -m thesis_lib.allocate (e.g. --step-time resnet34a:48:0.09 --peak-tflops 700).
# BENCH_S=120 first spends at most that many seconds on bench/throughput.py (reference loop, single run with CUDA
# graphs, stacked K = 8 / 48, ResNet-34A b32 and PreAct-ResNet-18 b128), printed line by line into OUT/bench.txt
# so a bench cut off at its limit still returns what it measured; the allocation gets the rest of MINUTES.
set -uo pipefail
OUT="${1:?usage: allocate.sh OUT [MINUTES] [allocate options]}"
MINUTES="${2:-8}"
EXTRA=("${@:3}")
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)"      # absolute: the cd below must not move it
cd "$(dirname "$0")/../.."
t0=$(date +%s)
# shellcheck disable=SC1091
source scripts/device/setup.sh || { echo "error: set-up from .device failed" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1 || true
if [ "${BENCH_S:-0}" -gt 0 ]; then
    timeout "$BENCH_S" python3 -u bench/throughput.py --device cuda --configs resnet34a:32 preact_resnet18:128 \
        --stacked 8 48 --compile reduce-overhead --n-images 2000 --epochs 2 --json "$OUT/bench.json" \
        > "$OUT/bench.txt" 2>&1
    echo "bench: exit $? after $(( $(date +%s) - t0 )) s since start" >> "$OUT/bench.txt"
fi
# the set-up's (and the bench's) time comes out of this command's 10 minutes too
left=$(python3 -c "print(max(0.5, $MINUTES - ($(date +%s) - $t0) / 60))")
python3 -m thesis_lib.allocate --out "$OUT" --minutes "$left" "${EXTRA[@]}" 2>&1 | tee "$OUT/allocation.log"
