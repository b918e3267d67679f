"""``python -m thesis_lib.preflight``: the checks run_all.sh makes before any notebook. The code lives in
:mod:`thesis_lib.cli.preflight`; this module keeps the old name working."""

from thesis_lib.cli.preflight import *  # noqa: F401,F403
from thesis_lib.cli.preflight import main

if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
