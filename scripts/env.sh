# Sourced by run_all.sh and run_tests.sh: creates the Python environment when missing (or when pyproject.toml
# changed since it was made), activates it, and resolves the data source.
#
#   THESIS_VENV      where the virtual environment lives (default: .venv in the repository)
#   PYTHON           the interpreter to build it with (Python 3.11, 3.12 or 3.13; default: python3.11, else python3)
#   THESIS_TORCH_INDEX  a PyTorch wheel index for torch/torchvision, e.g. https://download.pytorch.org/whl/cpu
#                    (CPU only, ~200 MB instead of ~3 GB of CUDA 13 libraries) or .../whl/cu126 (drivers without
#                    CUDA 13); default: PyPI's build. The versions are those of requirements-lock.txt either way.
#   THESIS_DATA_DIR  offline data mirror, or "download"; when unset and a mirror sits beside the checkout
#                    (../shared/data), that one is used; otherwise data are downloaded from the original publishers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${THESIS_VENV:-$ROOT/.venv}"
STAMP="$VENV/.pyproject.sha256"
# The environment is remade when pyproject.toml or this script (its install steps) change.
want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements-lock.txt" "$ROOT/scripts/env.sh" | sha256sum | cut -d' ' -f1)"

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  PY="${PYTHON:-python3.11}"
  command -v "$PY" >/dev/null 2>&1 || PY=python3
  "$PY" -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13), sys.version' 2>/dev/null || {
    echo "error: Python 3.11, 3.12 or 3.13 is required (found $($PY --version 2>&1)); set PYTHON=/path/to/python3.x" >&2
    exit 1; }
  echo ">>> setting up the environment in $VENV (first run: installs PyTorch, a few minutes)"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if [ -n "${THESIS_TORCH_INDEX:-}" ]; then
    "$VENV/bin/python" -m pip install -q -c "$ROOT/requirements-lock.txt" --index-url "$THESIS_TORCH_INDEX" torch torchvision
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
# shellcheck disable=SC1091
source "$VENV/bin/activate"

# The data source is the library's rule (thesis_lib.data.registry.mirror_dir): THESIS_DATA_DIR if set
# ("download" forces downloading), else ../shared/data beside the checkout when it exists, else download.
if [ -n "${THESIS_DATA_DIR:-}" ] && [ "$THESIS_DATA_DIR" != download ]; then
  # absolute, because notebooks run with their own working directory
  THESIS_DATA_DIR="$(cd "$THESIS_DATA_DIR" 2>/dev/null && pwd)" || {
    echo "error: THESIS_DATA_DIR does not exist; point it at the data mirror or set THESIS_DATA_DIR=download" >&2
    exit 1; }
  export THESIS_DATA_DIR
fi
echo ">>> data: $(python -c 'from thesis_lib.data.registry import describe_source; print(describe_source())')"
# No MPLBACKEND here: notebooks keep their figures inline (ipykernel's backend); headless scripts and tests get
# matplotlib's Agg on their own.
