"""Chapter 3's notebook layer (:mod:`thesis_lib.notebook.chapter3`) without training or papermill: its parameters
are checked with clear errors, ``None`` settings resolve to the thesis's, the data cells compute what the chapter
says and the runs are built with the notebook's settings
(the cells' shape: ``test_notebook_base.py``)."""

from __future__ import annotations

import pandas as pd
import pytest

from thesis_lib.chapters.ch3 import grid as chapter3_grid
from thesis_lib.chapters.ch3 import stats
from thesis_lib.core.catalogue import HYP
from thesis_lib.data import entropy
from thesis_lib.notebook import base
from thesis_lib.notebook.chapter3 import STATISTICS_CSV, Chapter3



def _chapter(tmp_path, **kw) -> Chapter3:
    return Chapter3(**{"profile": "smoke", "results_dir": tmp_path / "results", "figures_dir": tmp_path / "figures",
                       **kw})


@pytest.fixture(scope="module")
def ch(tmp_path_factory) -> Chapter3:
    return _chapter(tmp_path_factory.mktemp("chapter3"))


# -- parameters ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, message", [
    ({"gamma": 1.5}, r"gamma must lie in \[0.0, 1.0\)"),
    ({"gamma": 1.0}, r"gamma must lie in \[0.0, 1.0\)"),          # gamma = 1 would leave no mass to the answer
    ({"gamma": float("nan")}, "gamma must lie"),
    ({"gamma": "0.1"}, "gamma must lie"),
    ({"beta": -0.01}, r"beta must lie in \[0.0, 1.0\]"),
    ({"rules": "released"}, "rules: unknown label rule set 'released'; expected one of 'thesis', 'release'"),
    ({"tune": "yes"}, "tune must be True or False"),
    ({"seeds": 0}, "seeds must be a non-empty list of integers >= 0"),
    ({"seeds": [0, -1]}, "seeds must be a non-empty list"),
    ({"seeds": []}, "seeds must be a non-empty list"),
    ({"models": "resnet34a"}, "models must be a non-empty list of model names"),
    ({"models": ["resnet-34"]}, "models must be a non-empty list of model names"),
    ({"device": "gpu"}, "device must be 'auto', 'cpu', 'cuda'"),
    ({"jobs": 0}, "jobs must be an integer >= 1"),
    ({"tables": ["3.9"]}, r"\['3.9'\] is no table of the thesis"),
    ({"tables": "3.1"}, "tables must be a list of table ids"),
    ({"profile": "fast"}, "unknown profile 'fast'"),
])
def test_a_bad_parameter_is_a_clear_error(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        _chapter(tmp_path, **kw)




def test_none_resolves_to_the_thesis_values(ch):
    assert (ch.gamma, ch.beta, ch.rules, ch.lrs) == (HYP["gamma"], HYP["beta"], "thesis", {})
    assert ch.seeds is None and ch.models is None
    assert ch.tables == chapter3_grid.TABLES and ch.figure_runs == chapter3_grid.FIGURES


def test_given_values_are_kept_and_the_values_used_are_printed(tmp_path, capsys):
    ch = _chapter(tmp_path, gamma=0.2, beta=0, rules="release", seeds=[3], models=["small_cnn"], tables=["3.4"])
    assert (ch.gamma, ch.beta, ch.rules, ch.seeds, ch.models) == (0.2, 0.0, "release", (3,), ("small_cnn",))
    assert ch.tables == ("3.4",) and ch.figure_runs == ()
    assert "gamma = 0.2, beta = 0.0, label rules: release" in capsys.readouterr().out
    _chapter(tmp_path)
    assert "gamma = 0.1 (the thesis value), beta = 0.05 (the thesis value)" in capsys.readouterr().out


# -- the data and the labels -----------------------------------------------------------------------------------------

def test_sources_say_what_the_data_hold(ch, capsys):
    frame = ch.sources()
    out = capsys.readouterr().out
    assert "CIFAR-10S images labelled: 1000" in out and "Uma et al. split: 7000 train / 3000 test" in out
    assert list(frame.columns) == ["file", "canonical source", "sha256"]
    assert "cifar10s/raw_human_data.csv" in set(frame.file)


def test_statistics_are_written_for_the_report(ch, capsys):
    table = ch.statistics()
    written = pd.read_csv(ch.results / "tables" / STATISTICS_CSV)
    assert "participants (N)" in set(written.statistic) and len(written) == len(table)
    differs = table[table.verdict == "DIFFERS"]
    assert f"{len(differs)} statistic(s) differ from the thesis:" in capsys.readouterr().out


def test_differing_statistics_name_each_difference():
    table = pd.DataFrame([{"statistic": "a", "computed": 1.0, "thesis": "one", "verdict": "matches", "comment": ""},
                          {"statistic": "b", "computed": 2.5, "thesis": "two", "verdict": "DIFFERS", "comment": "why"}])
    assert stats.differing_statistics(table) == ["b: computed 2.5; thesis: two. why"]


def test_figures_b1_and_b2_pick_the_thesis_classes(ch, capsys):
    """The picking rules reproduce the classes the thesis's captions name (appendix B)."""
    assert ch.fig_B_1().name == "fig_B_1_highest_wasserstein.png"
    assert ch.fig_B_2().name == "fig_B_2_softening.png"
    out = capsys.readouterr().out
    assert "Fig B.1 classes: ['dog', 'frog', 'bird']" in out and "Fig B.2 classes: ['truck', 'dog', 'airplane']" in out
    assert (ch.figures / "fig_B_1_highest_wasserstein.png").is_file()


def test_entropy_bands_split_at_the_thesis_thresholds(ch):
    bands = stats.entropy_bands(ch.c10s, ch.probs)
    h = entropy(ch.probs)
    low = sum(len(ch.c10s.elicitations[i]) for i in ch.c10s.indices if h[i] <= 0.1)
    high = sum(len(ch.c10s.elicitations[i]) for i in ch.c10s.indices if h[i] > 0.25)
    assert (len(bands["low"]), len(bands["high"])) == (low, high) and low > 0 and high > 0


def test_simulated_labels_sit_beside_the_human_ones(ch):
    frame = ch.simulated_labels()
    assert list(frame["labels"]) == ["human T2 Clamp (per annotator, CIFAR-10S)", "simulated (7,000 training images)"]
    assert ((frame["mean top probability"] > 0.1) & (frame["mean top probability"] <= 1)).all()
    assert ((frame["mean classes with mass"] >= 1) & (frame["mean classes with mass"] <= 10)).all()


def test_classes_of_reads_the_hard_labels():
    assert stats.classes_of(pd.DataFrame({"hard": [5, 0]})) == ["dog", "airplane"]


# -- the runs ---------------------------------------------------------------------------------------------------------



def test_validation_choices_replace_gamma_beta_and_learning_rates(tmp_path, monkeypatch, capsys):
    calls = {}

    def fake_tuning(profile, seeds, models, images, device, jobs):
        calls.update(profile=profile, device=device, jobs=jobs)
        return ({"gamma": 0.2, "beta": 0.01, "lr": {"small_cnn": 0.05}},
                {"gamma": pd.DataFrame({"candidate": [0.1, 0.2], "validation CE": [1.0, 0.9]})})

    def fake_records(grid, device, jobs):
        calls["specs"] = grid.specs()
        return {}

    monkeypatch.setattr(chapter3_grid, "run_tuning", fake_tuning)
    monkeypatch.setattr(base, "run_records", fake_records)
    ch = _chapter(tmp_path, tune=True, tables=["B.1"], jobs=2)
    assert ch.validation_choices() == {"gamma": 0.2, "beta": 0.01, "lr": {"small_cnn": 0.05}}
    assert calls == {"profile": "smoke", "device": "auto", "jobs": 2}
    assert "gamma = 0.2, beta = 0.01" in capsys.readouterr().out
    ch.train()
    specs = calls["specs"]
    assert specs and {s.gamma for s in specs} == {0.2} and {s.lr for s in specs} == {0.05}
    assert {s.beta for s in specs if s.label_method == "label_smoothing"} == {0.01}


def test_training_uses_the_notebooks_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(base, "run_records", lambda grid, device, jobs: {})
    ch = _chapter(tmp_path, tables=["3.4"], rules="release", seeds=[4], gamma=0.3)
    assert ch.validation_choices() == {"gamma": 0.3, "beta": HYP["beta"], "lr": {}}
    grid = ch.train()
    specs = grid.specs()
    assert set(grid.tables) == {"3.4"} and not grid.figures
    assert {(s.gamma, s.rules, s.seed) for s in specs} == {(0.3, "release", 4)}
    assert ch.fig_3_5() is None and "Fig. 3.5: not asked for" in capsys.readouterr().out
    assert ch.table("3.1") is None and "Table 3.1: not asked for" in capsys.readouterr().out


# -- the notebook ----------------------------------------------------------------------------------------------------
