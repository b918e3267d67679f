"""Which chapter module builds a run's data: chapter number -> dotted module path, resolved at run time.

The engine (the executors, the Ray worker, the multi-run executor) never imports a chapter statically: a spec
names its chapter, and :func:`chapter_module` imports the module registered for it with :mod:`importlib`. Each
registered module provides ``run_data(spec)`` (what the run trains and is evaluated on) and
``check_label_method(name)``.
"""

from __future__ import annotations

import importlib

CHAPTERS: dict[int, str] = {
    3: "thesis_lib.chapters.ch3.runs",
    4: "thesis_lib.chapters.ch4.runs",
    5: "thesis_lib.chapters.ch5.runs",
}


def chapter_module(chapter: int):
    """The module that builds Chapter ``chapter``'s runs."""
    try:
        path = CHAPTERS[chapter]
    except KeyError:
        raise NotImplementedError(f"chapter {chapter} runs are built by their chapter module, not yet available") \
            from None
    return importlib.import_module(path)


def run_data(spec):
    """What ``spec`` trains and is evaluated on, built by its chapter's module."""
    return chapter_module(spec.chapter).run_data(spec)
