"""Every chapter's tables, by chapter number: the rows the chapter notebooks build, for the command-line entry
points that fill the run cache without the notebooks (:mod:`thesis_lib.cli.grid`, :mod:`thesis_lib.cli.allocate`)
and for checking a notebook's ``tables`` parameter (:mod:`thesis_lib.cli.preflight`)."""

from __future__ import annotations


def table_rows(chapter: int, profile: str, tables, seeds=None, models=None) -> dict:
    """``{table id: [Row]}`` exactly as the chapter notebook builds them (default settings, no re-tuning)."""
    if chapter == 3:
        from thesis_lib.chapters.ch3 import grid as chapter3_grid

        tables = tuple(tables or chapter3_grid.TABLES)
        return chapter3_grid.build(profile, seeds, models, tables=tables, figures=()).tables
    if chapter in (4, 5):
        from thesis_lib.chapters.ch4 import runs as chapter4
        from thesis_lib.chapters.ch5 import runs as chapter5

        mod = chapter4 if chapter == 4 else chapter5
        if models and len(models) > 1:
            raise ValueError(f"Chapter {chapter} tables use one model; got {list(models)}")
        return mod.build_grid(profile, seeds, models[0] if models else None, tuple(tables or mod.TABLES))
    raise ValueError(f"chapter must be 3, 4 or 5, got {chapter}")


def table_ids() -> tuple[str, ...]:
    """Every table id of every chapter's notebook, in chapter order."""
    from thesis_lib.chapters.ch3 import grid as chapter3_grid
    from thesis_lib.chapters.ch4 import runs as chapter4
    from thesis_lib.chapters.ch5 import runs as chapter5

    return chapter3_grid.TABLES + chapter4.TABLES + chapter5.TABLES
