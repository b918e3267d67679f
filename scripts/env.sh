# Sourced by run_all.sh and run_tests.sh: creates the Python environment when missing (or when pyproject.toml
# changed since it was made), activates it, and resolves the data source.
#
#   THESIS_VENV      where the virtual environment lives (default: .venv in the repository)
#   PYTHON           the interpreter to build it with (Python 3.11, 3.12 or 3.13; default: python3.11, else python3).
#                    An existing environment built with another Python version than PYTHON's is rebuilt (said so).
#   THESIS_TORCH_INDEX  a PyTorch wheel index for torch/torchvision, e.g. https://download.pytorch.org/whl/cpu
#                    (CPU only, ~200 MB instead of ~3 GB of CUDA 13 libraries) or .../whl/cu126 (drivers without
#                    CUDA 13), or "pypi" for PyPI's build. Default: on Linux without nvidia-smi (no NVIDIA GPU) the
#                    CPU index, else PyPI's build. The versions are those of requirements-lock.txt either way.
#   THESIS_ENV_DRY_RUN=1  only say what would be done (which interpreter, whether to rebuild, which index)
#   THESIS_DATA_DIR  offline data mirror, or "download"; when unset and a mirror sits beside the checkout
#                    (../shared/data), that one is used; otherwise data are downloaded from the original publishers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${THESIS_VENV:-$ROOT/.venv}"
STAMP="$VENV/.pyproject.sha256"
# The environment is remade when pyproject.toml or this script (its install steps) change.
want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements-lock.txt" "$ROOT/scripts/env.sh" | sha256sum | cut -d' ' -f1)"

_pyver() { "$1" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo unknown; }
if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
  command -v "$PY" >/dev/null 2>&1 || { echo "error: PYTHON=$PYTHON is not an interpreter found on PATH" >&2; exit 1; }
else
  PY=python3.11
  command -v "$PY" >/dev/null 2>&1 || PY=python3
fi
clear=""
if [ -x "$VENV/bin/python" ] && [ -n "${PYTHON:-}" ] && [ "$(_pyver "$VENV/bin/python")" != "$(_pyver "$PY")" ]; then
  # an environment keeps the interpreter it was made with: a changed PYTHON means a new one
  echo ">>> $VENV was built with Python $(_pyver "$VENV/bin/python"), but PYTHON=$PYTHON is Python $(_pyver "$PY"): rebuilding it" >&2
  clear="--clear"
fi
if [ -n "$clear" ] || [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  "$PY" -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13), sys.version' 2>/dev/null || {
    echo "error: Python 3.11, 3.12 or 3.13 is required (found $($PY --version 2>&1)); set PYTHON=/path/to/python3.x" >&2
    exit 1; }
  torch_index="${THESIS_TORCH_INDEX:-}" auto_index=""
  if [ -z "${THESIS_TORCH_INDEX+set}" ] && [ "$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null 2>&1; then
    torch_index=https://download.pytorch.org/whl/cpu auto_index=1
    echo ">>> no NVIDIA GPU here (no nvidia-smi): installing the CPU build of PyTorch from $torch_index" \
         "(THESIS_TORCH_INDEX=pypi for PyPI's CUDA build)"
  fi
  [ "$torch_index" = pypi ] && torch_index=""
  if [ "${THESIS_ENV_DRY_RUN:-}" = 1 ]; then
    echo ">>> dry run: would build $VENV${clear:+ afresh} with $PY (Python $(_pyver "$PY")); PyTorch from ${torch_index:-PyPI}"
    return 0 2>/dev/null || exit 0
  fi
  echo ">>> setting up the environment in $VENV with Python $(_pyver "$PY") (first run: installs PyTorch, a few minutes)"
  "$PY" -m venv $clear "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if [ -n "$torch_index" ]; then
    if ! "$VENV/bin/python" -m pip install -q -c "$ROOT/requirements-lock.txt" --index-url "$torch_index" torch torchvision; then
      # the automatic choice must never cost a machine its environment (e.g. only PyPI reachable, as on CI)
      [ -n "$auto_index" ] || { echo "error: could not install PyTorch from THESIS_TORCH_INDEX=$torch_index" >&2; exit 1; }
      echo ">>> the CPU index $torch_index is unreachable: installing PyPI's build instead" >&2
    fi
  fi
  "$VENV/bin/python" -m pip install -q -c "$ROOT/requirements-lock.txt" -e "$ROOT[dev]"
  # CIFAR-10-C's frost textures ship inside this package; only its image files are used, so its heavy
  # dependencies (OpenCV, scikit-image) are not installed.
  "$VENV/bin/python" -m pip install -q --no-deps imagecorruptions==1.1.2
  # a named Jupyter kernel, inside the environment (jupyter lab started from it lists "Python (thesis-companion)")
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name thesis-companion \
    --display-name "Python (thesis-companion)" >/dev/null
  echo "$want" > "$STAMP"
fi
if [ "${THESIS_ENV_DRY_RUN:-}" = 1 ]; then
  echo ">>> dry run: $VENV is up to date (Python $(_pyver "$VENV/bin/python"))"
  return 0 2>/dev/null || exit 0
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"

# The data source is the library's rule (thesis_lib.data.registry.mirror_dir): THESIS_DATA_DIR if set
# ("download" forces downloading), else ../shared/data beside the checkout when it exists, else download.
if [ -n "${THESIS_DATA_DIR:-}" ] && [ "$THESIS_DATA_DIR" != download ]; then
  # absolute, because notebooks run with their own working directory
  given="$THESIS_DATA_DIR"
  THESIS_DATA_DIR="$(cd "$THESIS_DATA_DIR" 2>/dev/null && pwd)" || {
    echo "error: THESIS_DATA_DIR=$given does not exist. Provide the data in one of two ways: point" \
         "THESIS_DATA_DIR at a data mirror laid out like shared/data, or set THESIS_DATA_DIR=download (or leave it" \
         "unset) to download every file from its original publisher (needs internet access)" >&2
    exit 1; }
  export THESIS_DATA_DIR
fi
echo ">>> data: $(python -c 'from thesis_lib.data.registry import describe_source; print(describe_source())')"
# No MPLBACKEND here: notebooks keep their figures inline (ipykernel's backend); headless scripts and tests get
# matplotlib's Agg on their own.
