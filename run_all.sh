#!/usr/bin/env bash
# Regenerates every table and figure: runs the chapter notebooks in order with papermill.
#
#   ./run_all.sh [--profile full|quick|smoke] [--only 03 04 ...] [-p NAME VALUE ...]
#
# Executed notebooks go to results/notebooks/, tables to results/tables/, figures to figures/.
# Default profile: full when a CUDA GPU is present, else quick.
set -euo pipefail
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
profile="" only=() params=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) [ $# -ge 2 ] || { usage; exit 2; }; profile="$2"; shift 2 ;;
    --only) shift; while [ $# -gt 0 ] && [[ "$1" != -* ]]; do only+=("$1"); shift; done ;;
    -p) [ $# -ge 3 ] || { echo "error: -p needs NAME VALUE" >&2; exit 2; }; params+=(-p "$2" "$3"); shift 3 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
source "$(dirname "$0")/scripts/env.sh"
cd "$ROOT"

if [ -z "$profile" ]; then
  profile="$(python -c 'from thesis_lib.profiles import default_profile; print(default_profile())')"
  echo "################################################################"
  echo "###  no --profile given: using '$profile' ($( [ "$profile" = full ] && echo 'a CUDA GPU is present' || echo 'no CUDA GPU: numbers are qualitative'))"
  echo "################################################################"
fi
python - "$profile" <<'PY' || exit 2
import sys
from thesis_lib.profiles import check_profile
try:
    check_profile(sys.argv[1])
except ValueError as err:
    sys.exit(f"error: {err}")
PY

mkdir -p results/notebooks
ran=0
for nb in notebooks/[0-9]*.ipynb; do
  name="$(basename "$nb" .ipynb)"
  if [ ${#only[@]} -gt 0 ]; then
    keep=0; for o in "${only[@]}"; do [[ "$name" == "$o"* ]] && keep=1; done
    [ $keep = 1 ] || continue
  fi
  echo ">>> $name (profile=$profile)"
  papermill "$nb" "results/notebooks/$name.ipynb" --cwd notebooks -p profile "$profile" "${params[@]}"
  ran=$((ran + 1))
done
[ $ran -gt 0 ] || { echo "error: no notebook matched --only ${only[*]}" >&2; exit 2; }
echo ">>> done: $ran notebook(s); tables in results/tables/, figures in figures/"
