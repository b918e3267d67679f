"""Every chapter's tables, by chapter number: the rows the chapter notebooks build, for the command-line entry
points that fill the run cache without the notebooks (:mod:`thesis_lib.cli.grid`, :mod:`thesis_lib.cli.allocate`)
and for checking a notebook's ``tables`` parameter (:mod:`thesis_lib.cli.preflight`)."""

from __future__ import annotations

from thesis_lib.chapters.ch3 import grid as chapter3_grid
from thesis_lib.chapters.ch4 import runs as chapter4
from thesis_lib.chapters.ch5 import runs as chapter5


def table_rows(chapter: int, profile: str, tables, seeds=None, models=None, rules: str = "thesis") -> dict:
    """``{table id: [Row]}`` exactly as the chapter notebook builds them (default settings, no re-tuning), every
    run under the label rule set ``rules`` (checked by each spec). Chapter 4's labels come from lambda_h, not
    elicitations, so no rule set applies there: anything but the default is an error."""
    if chapter == 3:
        tables = tuple(tables or chapter3_grid.TABLES)
        return chapter3_grid.build(profile, seeds, models, tables=tables, figures=(), rules=rules).tables
    if chapter in (4, 5):
        mod = chapter4 if chapter == 4 else chapter5
        if models and len(models) > 1:
            raise ValueError(f"Chapter {chapter} tables use one model; got {list(models)}")
        if chapter == 4 and rules != "thesis":
            raise ValueError(f"rules={rules!r}: Chapter 4's labels come from lambda_h, not soft-label elicitations, "
                             "so no label rule set applies; leave it 'thesis'")
        kw = {} if chapter == 4 else {"rules": rules}
        return mod.build_grid(profile, seeds, models[0] if models else None, tuple(tables or mod.TABLES), **kw)
    raise ValueError(f"chapter must be 3, 4 or 5, got {chapter}")


def table_ids() -> tuple[str, ...]:
    """Every table id of every chapter's notebook, in chapter order."""
    return chapter3_grid.TABLES + chapter4.TABLES + chapter5.TABLES
