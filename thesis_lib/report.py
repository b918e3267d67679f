"""``python -m thesis_lib.report``: the report, every table beside the thesis. The code lives in
:mod:`thesis_lib.reporting.report`; this module keeps the old name working."""

from thesis_lib.reporting.report import *  # noqa: F401,F403
from thesis_lib.reporting.report import main

if __name__ == "__main__":
    import sys

    sys.exit(main())
