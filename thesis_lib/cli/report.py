"""Write ``results/REPORT.md`` and ``REPORT.html`` (every table beside the thesis, every figure, the claims) and
check that the notebooks produced their tables.

    python -m thesis_lib.report [--results results] [--figures figures] [--require 03 04 05 | 3.1 ...] [--since T]

The report itself is :mod:`thesis_lib.reporting.report` (:func:`~thesis_lib.reporting.report.write`,
:func:`~thesis_lib.reporting.report.check_tables`); this is its command line. Exit status 1 when no table (or not
the tables ``--require`` names) was produced, after writing the report that says so.
"""

from __future__ import annotations

import argparse
import sys

from thesis_lib.reporting import report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m thesis_lib.report", description=f"{__doc__}\n{report.__doc__}",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", default=None)
    p.add_argument("--figures", default=None)
    p.add_argument("--require", nargs="*", default=[], metavar="NOTEBOOK_OR_TABLE",
                   help="notebooks (03, notebooks/04_hmix.ipynb) that must each have written a table, or table ids")
    p.add_argument("--since", type=float, default=None,
                   help="seconds since the epoch: tables written before it count as missing")
    a = p.parse_args(argv)
    md, html_path = report.write(a.results, a.figures)
    print(f"wrote {md} and {html_path}")
    try:
        report.check_tables(a.require, a.results, a.since)
    except report.MissingTables as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
