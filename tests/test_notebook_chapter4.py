"""Chapter 4's notebook layer (:mod:`thesis_lib.notebook.chapter4`) without training or papermill: its parameters
are checked with clear errors, ``None`` resolves to the thesis's confidence_gamma, the section 4.2 cells write what
the notebook wrote and the runs are built with the notebook's settings (the cells' shape:
``test_notebook_base.py``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from thesis_lib.chapters import grids
from thesis_lib.chapters.ch4 import analysis
from thesis_lib.chapters.ch4 import grid as chapter4_grid
from thesis_lib.core.catalogue import HYP
from thesis_lib.notebook import base
from thesis_lib.notebook.chapter4 import STATEMENTS_CSV, Chapter4



def _chapter(tmp_path, **kw) -> Chapter4:
    return Chapter4(**{"profile": "smoke", "results_dir": tmp_path / "results", "figures_dir": tmp_path / "figures",
                       **kw})


@pytest.fixture(scope="module")
def ch(tmp_path_factory) -> Chapter4:
    return _chapter(tmp_path_factory.mktemp("chapter4"))


# -- parameters ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, message", [
    ({"confidence_gamma": 1.5}, r"confidence_gamma must lie in \(0.0, 1.0\)"),
    ({"confidence_gamma": 0}, r"confidence_gamma must lie in \(0.0, 1.0\)"),      # gamma^omega = 0: uniform labels
    ({"confidence_gamma": 1.0}, r"confidence_gamma must lie in \(0.0, 1.0\)"),    # no smoothing at all
    ({"confidence_gamma": float("nan")}, "confidence_gamma must lie"),
    ({"confidence_gamma": "0.005"}, "confidence_gamma must lie"),
    ({"boundary": "deer"}, "boundary must be two different class names of airplane, automobile"),
    ({"boundary": ("deer",)}, "boundary must be two different class names"),
    ({"boundary": ("deer", "deer")}, "boundary must be two different class names"),
    ({"boundary": ("deer", "plane")}, "boundary must be two different class names"),
    ({"seeds": 0}, "seeds must be a non-empty list of integers >= 0"),
    ({"seeds": [0, -1]}, "seeds must be a non-empty list"),
    ({"model": "resnet-18"}, "model must be one model name .*preact_resnet18"),
    ({"model": ["small_cnn"]}, "model must be one model name"),
    ({"device": "gpu"}, "device must be 'auto', 'cpu', 'cuda'"),
    ({"jobs": 0}, "jobs must be an integer >= 1"),
    ({"tables": ["4.4"]}, r"\['4.4'\] is no table of the thesis"),     # a figure, not one drawn from runs
    ({"profile": "fast"}, "unknown profile 'fast'"),
])
def test_a_bad_parameter_is_a_clear_error(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        _chapter(tmp_path, **kw)




def test_none_resolves_to_the_thesis_values(ch):
    assert ch.confidence_gamma == HYP["confidence_gamma"]
    assert (ch.seeds, ch.model, ch.boundary) == (None, None, ("deer", "airplane"))
    assert ch.tables == chapter4_grid.TABLES and ch.figure_runs == ()
    assert len(ch.stimuli) == 810 and ch.frame.stimulus.nunique() == 810


def test_given_values_are_kept_and_the_values_used_are_printed(tmp_path, capsys):
    ch = _chapter(tmp_path, confidence_gamma=0.1, boundary=["cat", "dog"], seeds=[2], model="small_cnn",
                  tables=["4.3"])
    assert (ch.confidence_gamma, ch.boundary, ch.seeds, ch.model) == (0.1, ("cat", "dog"), (2,), "small_cnn")
    assert ch.tables == ("4.3",)
    out = capsys.readouterr().out
    assert "confidence_gamma = 0.1, Fig. 4.4's class pair: cat vs dog" in out
    exact = analysis.both_endpoints_exact(ch.stimuli, ch.cifar10.exact_mask)
    assert f"stimuli with both endpoints pixel-exact: {exact} of 810" in out
    _chapter(tmp_path)
    assert "confidence_gamma = 0.005 (the thesis value)" in capsys.readouterr().out


# -- section 4.2 -----------------------------------------------------------------------------------------------------

def test_both_endpoints_exact_counts_stimuli_whose_two_images_are_exact():
    mask = np.array([True, True, False, True])
    stimuli = [SimpleNamespace(idx_a=a, idx_b=b) for a, b in ((0, 1), (0, 2), (3, 1), (2, 2))]
    assert analysis.both_endpoints_exact(stimuli, mask) == 2
    assert analysis.both_endpoints_exact([], mask) == 0


def test_statements_are_written_at_both_levels_and_shown_readable(ch):
    shown = ch.statements()
    written = pd.read_csv(ch.results / "tables" / STATEMENTS_CSV)
    assert list(written.level.unique()) == ["stimulus", "judgement"]
    assert written.id.tolist() == list(analysis.STATEMENTS) * 2
    assert len(shown) == len(written) and set(shown["held"]) <= {"yes", "no"}
    stimulus = analysis.statement_tests(ch.frame, level="stimulus")
    assert np.allclose(written.p_value[:len(stimulus)], stimulus.p_value)


def test_statement_tests_by_level_is_each_level_in_turn(ch):
    both = analysis.statement_tests_by_level(ch.frame, levels=("judgement", "stimulus"), alpha=0.01)
    parts = [analysis.statement_tests(ch.frame, level=lv, alpha=0.01) for lv in ("judgement", "stimulus")]
    pd.testing.assert_frame_equal(both, pd.concat(parts, ignore_index=True))


def test_section_4_2_cells_write_their_figures(ch):
    names = [ch.fig_4_0().name, ch.fig_4_2().name, ch.fig_4_3().name, ch.fig_4_4().name, ch.fig_4_5().name]
    assert names == ["fig_4_0_stimuli.png", "fig_4_2_inferred_vs_generating.png", "fig_4_3_example_relabellings.png",
                     "fig_4_4_category_boundary.png", "fig_4_5_confidence_by_entropy.png"]
    assert all((ch.figures / n).is_file() for n in names)


def test_section_4_2_tables_are_the_analysis(ch):
    pd.testing.assert_frame_equal(ch.lambda_h_by_lambda_f(), analysis.lambda_h_by_lambda_f(ch.frame))
    pd.testing.assert_frame_equal(ch.example_relabellings(), analysis.example_relabellings(ch.frame))
    participants = ch.participant_statistics().set_index("quantity")
    assert participants.loc["participants", "ours"] == "33"


# -- the runs ---------------------------------------------------------------------------------------------------------



def test_training_uses_the_notebooks_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(base, "run_records", lambda grid, device, jobs: {})
    ch = _chapter(tmp_path, tables=["4.3"], seeds=[3, 4], model="small_cnn", confidence_gamma=0.02)
    grid = ch.train()
    specs = grid.specs()
    assert set(grid.tables) == {"4.3"} and len(specs) == 5 * 2
    assert {(s.model, s.seed) for s in specs} == {("small_cnn", 3), ("small_cnn", 4)}
    assert {dict(s.extra).get("confidence_gamma") for s in specs if s.label_method.endswith("_conf")} == {0.02}
    assert "10 distinct runs for 4.3 at profile 'smoke'" in capsys.readouterr().out
    assert ch.table("4.1") is None and "Table 4.1: not asked for" in capsys.readouterr().out


def test_the_default_runs_are_the_chapters_grid(ch, monkeypatch):
    """The notebook's runs (and so their cache keys) are exactly what the grid builds for the thesis's settings."""
    monkeypatch.setattr(base, "run_records", lambda grid, device, jobs: {})
    ours = ch.train()
    theirs = grids.build(4, "smoke", images=ch.cifar10.provenance.source)
    assert [s.key for s in ours.specs()] == [s.key for s in theirs.specs()] and len(ours.specs()) == 8


# -- the notebook ----------------------------------------------------------------------------------------------------
