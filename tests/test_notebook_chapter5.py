"""Chapter 5's notebook layer (:mod:`thesis_lib.notebook.chapter5`) without training or papermill: its parameters
are checked with clear errors, the section 5.1 cells compute what the chapter says, the validation choices and the
runs use the notebook's settings (the cells' shape: ``test_notebook_base.py``)."""

from __future__ import annotations

import pandas as pd
import pytest

from thesis_lib.chapters.ch5 import analysis
from thesis_lib.chapters.ch5 import grid as chapter5_grid
from thesis_lib.chapters.ch5.runs import DEFAULTS
from thesis_lib.core import catalogue
from thesis_lib.notebook import base
from thesis_lib.notebook.chapter5 import COMPOSITION_CSV, Chapter5, validation_csv



def _chapter(tmp_path, **kw) -> Chapter5:
    return Chapter5(**{"profile": "smoke", "results_dir": tmp_path / "results", "figures_dir": tmp_path / "figures",
                       **kw})


@pytest.fixture(scope="module")
def ch(tmp_path_factory) -> Chapter5:
    return _chapter(tmp_path_factory.mktemp("chapter5"))



# -- parameters ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, message", [
    ({"rules": "released"}, "rules: unknown label rule set 'released'; expected one of 'thesis', 'release'"),
    ({"rules": None}, "rules: unknown label rule set None"),
    ({"tune": 1}, "tune must be True or False"),
    ({"seeds": 0}, "seeds must be a non-empty list of integers >= 0"),
    ({"seeds": [0, -1]}, "seeds must be a non-empty list"),
    ({"model": ["small_cnn"]}, "model must be one model name"),
    ({"model": "resnet-34"}, "model must be one model name"),
    ({"device": "gpu"}, "device must be 'auto', 'cpu', 'cuda'"),
    ({"jobs": 0}, "jobs must be an integer >= 1"),
    ({"tables": ["5.3"]}, r"\['5.3'\] is no table of the thesis"),
    ({"profile": "fast"}, "unknown profile 'fast'"),
])
def test_a_bad_parameter_is_a_clear_error(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        _chapter(tmp_path, **kw)




def test_defaults_are_the_profiles_and_every_table(ch, capsys):
    assert (ch.seeds, ch.model, ch.rules, ch.tune, ch.chosen) == (None, None, "thesis", False, None)
    assert ch.tables == chapter5_grid.TABLES == catalogue.table_ids(5) and ch.figure_runs == ()
    ch2 = _chapter(ch.results.parent, seeds=[2, 3], model="small_cnn", rules="release", tune=True, tables=["5.2"])
    assert (ch2.seeds, ch2.model, ch2.rules, ch2.tables) == ((2, 3), "small_cnn", "release", ("5.2",))
    assert "label rules: release; tune=True" in capsys.readouterr().out


def test_validation_csv_names_are_the_reports():
    assert [validation_csv(w) for w in ("Mix-MaxEnt alpha", "Ent-WC alpha", "Ent-WC kappa")] == [
        "chapter5_validation_mixmaxent_alpha.csv", "chapter5_validation_entwc_alpha.csv",
        "chapter5_validation_entwc_kappa.csv"]


# -- section 5.1 and appendix C (data, no training) -------------------------------------------------------------------

def test_soft_composition_is_written_beside_the_thesis(ch):
    frame = ch.soft_composition()
    written = pd.read_csv(ch.results / "tables" / COMPOSITION_CSV)
    assert list(written.statistic) == list(frame.statistic) and "38.3 ± 0.6" in set(written.thesis)
    sc = ch.composition()
    assert sc is ch.composition() and sc.n_images == 100      # computed once, over the 100 mixed images
    assert 0 < sc.off_mass_mean < 1 and -1 <= sc.pearson_r <= 1


def test_fig_5_1_is_the_horse_ship_mix(ch):
    name = analysis.example_stimulus(ch.composition().frame.stimulus)
    assert name in set(ch.composition().frame.stimulus)
    path = ch.fig_5_1()
    assert path.name == "fig_5_1_human_soft_label.png" and path.is_file()


def test_composition_by_rules_has_both_rule_sets(ch):
    assert list(ch.composition_by_rules().rules) == ["thesis", "release"]


def test_tau_curves_one_per_class_pair(ch):
    fits = ch.tau_curves()
    assert len(fits) == 45 and all(a < b for a, b in fits)
    table = analysis.tau_fit_table(fits)
    assert list(table.columns) == ["pair", "k", "m"] and len(table) == 45 and table.pair.is_unique
    summary = ch.tau_fits()
    assert list(summary.columns) == ["k", "m"] and summary.loc["count", "k"] == 45
    assert ch.fig_C_1().name == "fig_C_1_tau_curves.png"


# -- the runs (no training) ------------------------------------------------------------------------------------------



def test_without_tune_the_thesis_choices_are_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(chapter5_grid, "run_tuning", lambda *a, **k: pytest.fail("tune=False must not tune"))
    ch = _chapter(tmp_path, tables=["5.1"])
    assert ch.validation_choices() == {"mix_maxent": DEFAULTS["mix_maxent"], "ent_wc": DEFAULTS["ent_wc"]}
    assert ch.chosen is None and "thesis choices:" in capsys.readouterr().out


def test_validation_choices_are_written_and_used_for_the_tables(tmp_path, monkeypatch, capsys):
    calls = {}
    chosen = {"mix_maxent": {"alpha": 20.0}, "ent_wc": {"alpha": 0.4, "kappa": 0.5}}
    scores = {"Mix-MaxEnt alpha": pd.DataFrame({"candidate": [10.0, 20.0], "validation CE": [1.0, 0.9]}),
              "Ent-WC kappa": pd.DataFrame({"candidate": [0.5, 0.7], "validation CE": [0.8, 0.9]})}

    def fake_tuning(profile, seeds, model, images, device, jobs, rules):
        calls.update(profile=profile, seeds=seeds, model=model, device=device, jobs=jobs, rules=rules)
        return chosen, scores

    def fake_records(grid, device, jobs):
        calls["specs"] = grid.specs()
        return {}

    monkeypatch.setattr(chapter5_grid, "run_tuning", fake_tuning)
    monkeypatch.setattr(base, "run_records", fake_records)
    ch = _chapter(tmp_path, tune=True, tables=["5.1"], seeds=[1], model="small_cnn", rules="release", jobs=2)
    assert ch.validation_choices() == chosen and ch.chosen == chosen
    assert {k: calls[k] for k in ("profile", "seeds", "model", "device", "jobs", "rules")} == {
        "profile": "smoke", "seeds": (1,), "model": "small_cnn", "device": "auto", "jobs": 2, "rules": "release"}
    written = pd.read_csv(ch.results / "tables" / "chapter5_validation_entwc_kappa.csv")
    assert list(written.columns) == ["candidate", "validation CE"] and len(written) == 2
    assert (ch.results / "tables" / "chapter5_validation_mixmaxent_alpha.csv").is_file()
    assert "chosen:" in capsys.readouterr().out
    ch.train()
    extras = {s.label_method: dict(s.extra) for s in calls["specs"]}
    assert extras["mix_maxent"] == {"alpha": 20.0} and extras["ent_wc"] == {"alpha": 0.4, "kappa": 0.5}
    assert {(s.seed, s.model, s.rules) for s in calls["specs"]} == {(1, "small_cnn", "release")}


def test_training_builds_the_chapters_grid(tmp_path, monkeypatch, capsys):
    """The notebook's default grid is the chapter's (13 runs at smoke, as the papermill smoke test counts)."""
    monkeypatch.setattr(base, "run_records", lambda grid, device, jobs: {})
    ch = _chapter(tmp_path, tables=["5.1", "C.1"])
    grid = ch.train()
    assert set(grid.tables) == {"5.1", "C.1"}
    expected = chapter5_grid.build("smoke", tables=["5.1", "C.1"], images=ch.cifar10.provenance.source)
    assert sorted(s.key for s in grid.specs()) == sorted(s.key for s in expected.specs())
    full = chapter5_grid.build("smoke", images=ch.cifar10.provenance.source)
    assert len(full.specs()) == 13
    assert ch.table("5.2") is None and "Table 5.2: not asked for" in capsys.readouterr().out


# -- the notebook ----------------------------------------------------------------------------------------------------
