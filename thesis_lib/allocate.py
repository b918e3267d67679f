"""``python -m thesis_lib.allocate``: one allocation of a lent GPU. The code lives in :mod:`thesis_lib.cli.allocate`;
this module keeps the old name working."""

from thesis_lib.cli.allocate import *  # noqa: F401,F403
from thesis_lib.cli.allocate import main

if __name__ == "__main__":
    import sys

    sys.exit(main())
