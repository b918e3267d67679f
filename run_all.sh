#!/usr/bin/env bash
# Regenerates every table and figure: runs the chapter notebooks in order with papermill.
#
#   ./run_all.sh [--profile full|quick|smoke] [--only 03 04 ...] [--jobs N] [--backend local|ray] [-p NAME VALUE ...]
#
# Executed notebooks go to results/notebooks/, tables to results/tables/, figures to figures/, and the report
# (every table beside the thesis, its claims checked) to results/REPORT.md and .html. Finished training runs are
# cached in results/runs/, so a killed run_all.sh resumes where it stopped. --jobs N trains N runs at once
# (default: one per CPU core for the CPU profiles, whose runs use one thread each; 1 at the full profile).
# --backend ray sends the training runs to a Ray cluster (THESIS_RAY_ADDRESS, else a local Ray instance);
# default: $THESIS_BACKEND, else local. Default profile: full when a CUDA GPU is present, else quick.
set -euo pipefail
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
profile="" only=() pairs=() jobs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) [ -n "${2:-}" ] || { echo "error: --profile needs full, quick or smoke" >&2; exit 2; }
               profile="$2"; shift 2 ;;
    --only) shift; n=0; while [ $# -gt 0 ] && [[ "$1" != -* ]]; do only+=("$1"); shift; n=$((n + 1)); done
            [ $n -gt 0 ] || { echo "error: --only needs at least one notebook number (e.g. --only 03 04)" >&2; exit 2; } ;;
    --jobs) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "error: --jobs needs a positive integer" >&2; exit 2; }
            jobs="$2"; shift 2 ;;
    --backend) [[ "${2:-}" =~ ^(local|ray)$ ]] || { echo "error: --backend needs local or ray" >&2; exit 2; }
               export THESIS_BACKEND="$2"; shift 2 ;;
    -p) [ $# -ge 3 ] || { echo "error: -p needs NAME VALUE" >&2; exit 2; }; pairs+=("$2" "$3"); shift 3 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
source "$(dirname "$0")/scripts/env.sh"
cd "$ROOT"

if [ -z "$profile" ]; then
  # a GPU that this PyTorch cannot use is an error (named, with the fix), never a silent fall-back to quick
  profile="$(python -c '
import sys
from thesis_lib.core.profiles import default_profile
try:
    print(default_profile())
except ValueError as err:
    sys.exit(f"error: {err}")')" || exit 2
  echo "################################################################"
  echo "###  no --profile given: using '$profile' ($( [ "$profile" = full ] && echo 'a CUDA GPU is present' || echo 'no CUDA GPU: numbers are qualitative'))"
  echo "################################################################"
fi

selected=()
for nb in notebooks/[0-9]*.ipynb; do
  name="$(basename "$nb" .ipynb)"
  if [ ${#only[@]} -gt 0 ]; then
    keep=0; for o in "${only[@]}"; do [[ "$name" == "$o"* ]] && keep=1; done
    [ $keep = 1 ] || continue
  fi
  selected+=("$nb")
done
for o in "${only[@]}"; do  # every --only value must name a notebook: a typo is never silently dropped
  hit=0; for nb in notebooks/[0-9]*.ipynb; do [[ "$(basename "$nb" .ipynb)" == "$o"* ]] && hit=1; done
  [ $hit = 1 ] || { echo "error: no notebook matched --only $o (notebooks: $(cd notebooks && ls [0-9]*.ipynb | tr '\n' ' '))" >&2; exit 2; }
done
[ ${#selected[@]} -gt 0 ] || { echo "error: no notebook matched --only ${only[*]}" >&2; exit 2; }
# papermill reads the parameters as YAML and warns about a file without a .yaml suffix: a private folder holds one
params_dir="$(mktemp -d "${TMPDIR:-/tmp}/run_all_params.XXXXXX")"
params_file="$params_dir/parameters.yaml"
trap 'rm -rf "$params_dir"' EXIT
python -m thesis_lib.preflight "$profile" "${selected[@]}" --params-out "$params_file" -- "${pairs[@]}" || exit 2

if [ -z "$jobs" ]; then
  if [ "$profile" = full ]; then jobs=1; else jobs="$(python -c 'import os; print(os.cpu_count() or 1)')"; fi
fi
RESULTS="${THESIS_RESULTS_DIR:-results}"
mkdir -p "$RESULTS/notebooks"
ran=0 start="$(date +%s)"
for nb in "${selected[@]}"; do
  name="$(basename "$nb" .ipynb)"
  echo ">>> $name (profile=$profile)"
  # executed into a temporary file, renamed when it finishes: a killed or failed run never leaves a partial
  # notebook under the final name (a failed one is kept as <name>.failed.ipynb to read the error)
  out="$RESULTS/notebooks/$name.ipynb" tmp="$RESULTS/notebooks/.$name.$$.tmp.ipynb"
  # --log-output streams each cell's output (tables, run k of n) while it runs
  if papermill "$nb" "$tmp" --cwd notebooks --log-output -f "$params_file" -p profile "$profile" -p jobs "$jobs"; then
    mv -f "$tmp" "$out"; rm -f "$RESULTS/notebooks/$name.failed.ipynb"
    # a browsable copy beside it, figures inline
    jupyter nbconvert --to html --log-level WARN "$out" --output-dir "$RESULTS/notebooks" \
      || echo "warning: could not convert $out to HTML" >&2
  else
    rc=$?; [ -f "$tmp" ] && mv -f "$tmp" "$RESULTS/notebooks/$name.failed.ipynb"
    echo "error: notebook $name failed; executed cells are in $RESULTS/notebooks/$name.failed.ipynb" >&2; exit $rc
  fi
  ran=$((ran + 1))
done
# the report fails (after writing what it can) when a notebook of this call produced no table
python -m thesis_lib.report --require "${selected[@]}" --since "$start"
echo ">>> done: $ran notebook(s); tables in $RESULTS/tables/, figures in ${THESIS_FIGURES_DIR:-figures}/, report in $RESULTS/REPORT.md"
