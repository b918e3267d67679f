"""``python -m thesis_lib.run``: one training run from the command line. The command is
:mod:`thesis_lib.cli.run`, the engine (``run_grid``, ``run_spec``...) :mod:`thesis_lib.runs.run`; this module keeps
the old names working."""

from thesis_lib.runs.run import *  # noqa: F401,F403
from thesis_lib.cli.run import main

if __name__ == "__main__":
    import sys

    sys.exit(main())
