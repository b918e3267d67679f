"""``python -m thesis_lib.run``: one training run from the command line. The code lives in :mod:`thesis_lib.runs.run`;
this module keeps the old name working."""

from thesis_lib.runs.run import *  # noqa: F401,F403
from thesis_lib.runs.run import main

if __name__ == "__main__":
    import sys

    sys.exit(main())
