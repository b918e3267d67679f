"""Chapter 5 and appendix C (notebook ``05_soft_mixup``), one method per code cell.

Part 1, humans perceive softer compositions (section 5.1): the share of mass off the generating classes and its
correlation with the mixing coefficient (:meth:`Chapter5.soft_composition`, under both label rule sets
:meth:`Chapter5.composition_by_rules`) and Fig. 5.1 (:meth:`Chapter5.fig_5_1`). Part 2, softening synthetic
targets (section 5.2, appendix C): the validation choices of section 5.2.2 (:meth:`Chapter5.validation_choices`),
the runs (:meth:`Chapter5.train`), Tables 5.1, 5.2 and C.1 (:meth:`Chapter5.table`), the provenance sensitivity,
appendix C's tau_ij curves (:meth:`Chapter5.fig_C_1`, :meth:`Chapter5.tau_fits`) and the claims at a glance. The
computations live in :mod:`thesis_lib.chapters.ch5`.
"""

from __future__ import annotations

import pandas as pd

from thesis_lib.chapters.ch5 import analysis
from thesis_lib.chapters.ch5 import grid as chapter5_grid
from thesis_lib.chapters.ch5.runs import DEFAULTS
from thesis_lib.chapters.common import SavedFigure
from thesis_lib.notebook.base import ChapterNotebook, check_bool, check_model, check_rules
from thesis_lib.runs.grid import Grid

#: the CSV of section 5.1's statistics (the report and the smoke test read it)
COMPOSITION_CSV = "chapter5_soft_composition.csv"
#: the algorithms whose settings section 5.2.2 chooses on validation
TUNED = ("mix_maxent", "ent_wc")


def validation_csv(what: str) -> str:
    """The CSV of one validation score table: "Mix-MaxEnt alpha" -> ``chapter5_validation_mixmaxent_alpha.csv``."""
    return f"chapter5_validation_{what.replace(' ', '_').replace('-', '').lower()}.csv"


class Chapter5(ChapterNotebook):
    """The cells of notebook 05: soft compositions of mixed images, and softer mixup variants trained on them."""

    chapter = 5
    table_style = {"label": "algorithm"}    # the rows are mixup algorithms

    def __init__(self, profile: str = "quick", *, seeds=None, model=None, tables=None, rules: str = "thesis",
                 tune: bool = False, device: str = "auto", jobs: int = 1, results_dir=None, figures_dir=None):
        rules, tune, model = check_rules(rules), check_bool("tune", tune), check_model(model)
        super().__init__(profile, seeds=seeds, models=[model] if model else None, tables=tables, device=device,
                         jobs=jobs, results_dir=results_dir, figures_dir=figures_dir)
        self.model, self.rules, self.tune = model, rules, tune
        self.chosen: dict | None = None            # the validation choices, when tune=True made them
        self._composition: analysis.SoftComposition | None = None
        self._tau: dict | None = None
        pd.set_option("display.max_colwidth", 120)
        print(f"label rules: {self.rules}" + ("; tune=True: the validation choices replace Mix-MaxEnt's alpha and "
                                              "Ent-WC's alpha and kappa before training" if tune else ""))

    # -- 1. humans perceive softer compositions (section 5.1) -------------------------------------------------------

    def composition(self) -> analysis.SoftComposition:
        """Section 5.1's statistics of the T2 Clamp labels over the mixed images, under this notebook's rules
        (computed once)."""
        if self._composition is None:
            self._composition = analysis.soft_composition(rules=self.rules)
        return self._composition

    def soft_composition(self) -> pd.DataFrame:
        """The share of each label's mass off the two generating classes (thesis: 38.3 % +/- 0.6 %) and the
        correlation of an endpoint's mass with its mixing coefficient (thesis: r = 0.52), beside the thesis;
        written to ``results/tables/chapter5_soft_composition.csv``."""
        return self.show(analysis.table(self.composition()), csv=COMPOSITION_CSV)

    def fig_5_1(self) -> SavedFigure:
        """Fig. 5.1: a 50/50 horse-ship mix, its mixup label and the mean of its human soft labels."""
        fig = analysis.example_figure(self.cifar10.images, self.composition().frame.stimulus, rules=self.rules)
        return self.save(fig, "fig_5_1_human_soft_label")

    def composition_by_rules(self) -> pd.DataFrame:
        """Section 5.1's statistics with the labels built by the thesis's rules and by the H-Mix release's."""
        return self.show(analysis.composition_by_rules())

    # -- 2. softening synthetic targets (section 5.2, appendix C) ---------------------------------------------------

    def validation_choices(self) -> dict:
        """Section 5.2.2 chose Mix-MaxEnt's alpha, then Ent-WC's alpha and its clamp kappa, on a validation set.
        With ``tune=True`` every candidate is trained (:func:`thesis_lib.chapters.ch5.grid.run_tuning`), each
        score table written to ``results/tables/chapter5_validation_<what>.csv`` and shown, and the choices
        replace the thesis's in :meth:`train`; returns the choices used below."""
        if not self.tune:
            thesis = {a: dict(DEFAULTS[a]) for a in TUNED}
            print("thesis choices:", thesis)
            return thesis
        self.chosen, scores = chapter5_grid.run_tuning(self.profile, self.seeds, self.model,
                                                       images=self.cifar10.provenance.source, device=self.device,
                                                       jobs=self.jobs, rules=self.rules)
        for what, frame in scores.items():
            print(what)
            self.show(frame, csv=validation_csv(what))
        print("chosen:", self.chosen, f"(thesis: Mix-MaxEnt alpha {DEFAULTS['mix_maxent']['alpha']:g}; Ent-WC alpha "
                                      f"{DEFAULTS['ent_wc']['alpha']:g}, kappa {DEFAULTS['ent_wc']['kappa']:g})")
        return self.chosen

    def train(self, **params) -> Grid:
        """Section 5.2's runs for the tables asked for, with this notebook's seeds, model, label rules and
        validation choices (``params`` override them), through the run cache."""
        return super().train(**{"rules": self.rules, "chosen": self.chosen, **params})

    def tau_curves(self) -> dict:
        """Appendix C's fitted ``{(i, j): (k, m)}`` of every class pair (computed once)."""
        if self._tau is None:
            self._tau = analysis.tau_fits()
        return self._tau

    def fig_C_1(self) -> SavedFigure:  # noqa: N802 (the thesis's appendix)
        """Appendix C: the 45 fitted tau_ij(lambda_f) curves against linear mixup's identity."""
        return self.save(analysis.fig_c_1(self.tau_curves()), "fig_C_1_tau_curves")

    def tau_fits(self) -> pd.DataFrame:
        """The fitted slopes k and midpoints m of the 45 curves, summarised (count, mean, spread, quantiles)."""
        return self.show(analysis.tau_fit_table(self.tau_curves()).describe())
