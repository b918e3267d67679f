#!/usr/bin/env bash
# Sets up the environment if needed and runs the test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/scripts/env.sh"
cd "$ROOT"
exec python -m pytest -q "$@"
