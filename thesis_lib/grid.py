"""``python -m thesis_lib.grid``: fill the run cache table by table. The code lives in :mod:`thesis_lib.cli.grid`; this
module keeps the old name working."""

from thesis_lib.cli.grid import *  # noqa: F401,F403
from thesis_lib.cli.grid import main

if __name__ == "__main__":
    import sys

    sys.exit(main())
