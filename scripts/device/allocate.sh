#!/usr/bin/env bash
# One allocation on a lent GPU machine: set up from the packed archive (.device, see pack.sh), then fill the
# full-profile run cache with the next uncached runs for MINUTES (default 8) minutes, every finished record copied
# into OUT/results/runs/full/ as it is saved. The device tool's command:
#
#     bash scripts/device/allocate.sh "$OUT" 8          (carry [".device"], timeout_s 600)
#
# Back here: cp <files_at>/results/runs/full/* results/runs/full/ and commit them.
set -uo pipefail
OUT="${1:?usage: allocate.sh OUT [MINUTES]}"
MINUTES="${2:-8}"
cd "$(dirname "$0")/../.."
t0=$(date +%s)
# shellcheck disable=SC1091
source scripts/device/setup.sh || { echo "error: set-up from .device failed" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1 || true
# the set-up's time comes out of this command's 10 minutes too
left=$(python3 -c "print(max(0.5, $MINUTES - ($(date +%s) - $t0) / 60))")
python3 -m thesis_lib.allocate --out "$OUT" --minutes "$left" 2>&1 | tee "$OUT/allocation.log"
