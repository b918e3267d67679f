"""What every chapter notebook shares (:mod:`thesis_lib.notebook.base`), checked for each of the three: the class
takes exactly the notebook's parameters, the notebook's cells are its import, its set-up and one method call each
(every table of the chapter has its cell), and a cell that needs the runs says so before training. Each
chapter's own cells are tested in ``test_notebook_chapter{3,4,5}.py``."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

from thesis_lib.core import catalogue
from thesis_lib.notebook import base
from thesis_lib.notebook.chapter3 import Chapter3
from thesis_lib.notebook.chapter4 import Chapter4
from thesis_lib.notebook.chapter5 import Chapter5

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = {3: Chapter3, 4: Chapter4, 5: Chapter5}


def _cells(chapter: int) -> list[dict]:
    nb = ROOT / "notebooks" / f"{catalogue.NOTEBOOKS[chapter]}.ipynb"
    return [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_the_class_takes_exactly_the_notebooks_parameters(chapter):
    """Same names and defaults as the notebook's parameters cell (what papermill may set)."""
    cells = _cells(chapter)
    assert "parameters" in cells[0]["metadata"].get("tags", [])
    params = {}
    exec("".join(cells[0]["source"]), {}, params)  # noqa: S102 - the repository's own parameters cell
    signature = inspect.signature(CHAPTERS[chapter].__init__).parameters
    assert list(signature)[1:] == list(params)
    assert {name: p.default for name, p in signature.items() if name != "self"} == params


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_the_notebook_is_its_set_up_and_one_call_per_cell(chapter):
    cls, cells = CHAPTERS[chapter], _cells(chapter)
    sources = ["".join(c["source"]) for c in cells[1:]]
    assert sources[0] == f"from thesis_lib.notebook.chapter{chapter} import {cls.__name__}"
    assert sources[1].startswith(f"ch = {cls.__name__}(")
    calls = set()
    for source in sources[2:]:
        (statement,) = ast.parse(source).body
        value = statement.value if isinstance(statement, (ast.Assign, ast.Expr)) else None
        assert isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
            and getattr(value.func.value, "id", None) == "ch", source
        calls.add(value.func.attr)
    assert all(callable(getattr(cls, name, None)) for name in calls), calls
    assert {"train", "table", "provenance_sensitivity"} <= calls
    every = "\n".join(sources)
    assert all(f'ch.table("{t}")' in every for t in catalogue.table_ids(chapter))   # every table has its cell


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_cells_that_need_the_runs_say_so_before_training(chapter, tmp_path):
    ch = CHAPTERS[chapter](profile="smoke", results_dir=tmp_path / "results", figures_dir=tmp_path / "figures")
    for call in (lambda: ch.table(catalogue.table_ids(chapter)[0]), ch.provenance_sensitivity, ch.where_we_stand):
        with pytest.raises(RuntimeError, match="run the training cell"):
            call()


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_notebook_takes_its_own_tables_from_one_list(chapter, tmp_path, capsys):
    """./run_all.sh passes one ``tables`` list to every notebook: each trains its own, in the thesis's order, and
    says so when none is its own."""
    asked = ["C.1", "4.2", "3.3", "3.5", "3.1"]
    ch = CHAPTERS[chapter](profile="smoke", tables=asked, results_dir=tmp_path / "r", figures_dir=tmp_path / "f")
    assert ch.tables == tuple(t for t in catalogue.table_ids(chapter) if t in asked)
    assert ch.figure_runs == (("3.5",) if chapter == 3 else ())
    other = CHAPTERS[chapter](profile="smoke", tables=["5.1"] if chapter != 5 else ["4.1"],
                              results_dir=tmp_path / "r", figures_dir=tmp_path / "f")
    assert other.tables == () and "so this notebook trains no run" in capsys.readouterr().out


def test_shared_parameter_checks():
    assert base.check_seeds(None) is None and base.check_seeds([0, 2]) == (0, 2)
    assert base.check_device("cuda:1") == "cuda:1" and base.check_model(None) is None
    for bad, message in (((lambda: base.check_seeds([True])), "seeds must be"),
                         ((lambda: base.check_models(["vgg"])), "models must be"),
                         ((lambda: base.check_model(["small_cnn"])), "model must be one model name"),
                         ((lambda: base.check_device("tpu")), "device must be"),
                         ((lambda: base.check_rules("paper")), "rules: unknown label rule set"),
                         ((lambda: base.check_bool("tune", "yes")), "tune must be True or False"),
                         ((lambda: base.check_fraction("gamma", 1.0, open_high=True)), r"gamma must lie in \[0.0, 1.0\)")):
        with pytest.raises(ValueError, match=message):
            bad()
