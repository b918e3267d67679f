"""``python -m thesis_lib.report``: the report, every table beside the thesis. The command is
:mod:`thesis_lib.cli.report`, the report (``write``, ``check_tables``...) :mod:`thesis_lib.reporting.report`; this
module keeps the old names working."""

from thesis_lib.reporting.report import *  # noqa: F401,F403
from thesis_lib.cli.report import main

if __name__ == "__main__":
    import sys

    sys.exit(main())
