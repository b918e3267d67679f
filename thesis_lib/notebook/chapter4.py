"""Chapter 4 (notebook ``04_hmix``), one method per code cell.

Part 1, human percepts against synthetic labels (section 4.2): the stimuli and who judged them
(:meth:`Chapter4.fig_4_0`, :meth:`Chapter4.participant_statistics`), the inferred against the generating
coefficient (:meth:`Chapter4.fig_4_2`, :meth:`Chapter4.lambda_h_by_lambda_f`), individual relabellings
(:meth:`Chapter4.example_relabellings`, :meth:`Chapter4.fig_4_3`), a category boundary (:meth:`Chapter4.fig_4_4`),
confidence against endpoint ambiguity (:meth:`Chapter4.fig_4_5`) and the section's statements with their tests
(:meth:`Chapter4.statements`). Part 2, learning with the human judgements as labels of a finite augmenting set
(section 4.3): the runs (:meth:`Chapter4.train`), Tables 4.1-4.3 (:meth:`Chapter4.table`) and their provenance
sensitivity. The computations live in :mod:`thesis_lib.chapters.ch4`.
"""

from __future__ import annotations

import pandas as pd

from thesis_lib import CLASSES, data
from thesis_lib.chapters.ch4 import analysis, plots
from thesis_lib.chapters.common import SavedFigure
from thesis_lib.core.catalogue import HYP
from thesis_lib.notebook.base import ChapterNotebook, check_fraction, check_model
from thesis_lib.reporting import tables
from thesis_lib.runs.grid import Grid

#: the CSV of section 4.2.2's statement tests at both levels (the report reads it)
STATEMENTS_CSV = "chapter4_statements.csv"


def check_boundary(boundary) -> tuple[str, str]:
    """Fig. 4.4's class pair: two different CIFAR-10 class names (``thesis_lib.CLASSES``), as a tuple."""
    ok = isinstance(boundary, (list, tuple)) and len(boundary) == 2 and all(c in CLASSES for c in boundary)
    if not ok or boundary[0] == boundary[1]:
        raise ValueError(f"boundary must be two different class names of {', '.join(CLASSES)}; got {boundary!r}")
    return tuple(boundary)


class Chapter4(ChapterNotebook):
    """The cells of notebook 04: the H-Mix study of section 4.2 and training with its judgements (section 4.3)."""

    chapter = 4

    def __init__(self, profile: str = "quick", *, seeds=None, model=None, tables=None, confidence_gamma=None,
                 boundary=("deer", "airplane"), device: str = "auto", jobs: int = 1, results_dir=None,
                 figures_dir=None):
        confidence_gamma = check_fraction("confidence_gamma", confidence_gamma, 0.0, 1.0, open_low=True,
                                          open_high=True)
        self.boundary = check_boundary(boundary)
        self.model = check_model(model)
        super().__init__(profile, seeds=seeds, models=[model] if model else None, tables=tables, device=device,
                         jobs=jobs, results_dir=results_dir, figures_dir=figures_dir)
        self.confidence_gamma = HYP["confidence_gamma"] if confidence_gamma is None else confidence_gamma
        self.stimuli = data.load_first_collection()
        self.frame = analysis.relabel_frame()
        exact = analysis.both_endpoints_exact(self.stimuli, self.cifar10.exact_mask)
        print(f"CIFAR-10 test images: {self.cifar10.provenance} | stimuli with both endpoints pixel-exact: "
              f"{exact} of {len(self.stimuli)}")
        print(f"confidence_gamma = {self.confidence_gamma}{' (the thesis value)' if confidence_gamma is None else ''}"
              f", Fig. 4.4's class pair: {self.boundary[0]} vs {self.boundary[1]}")

    # -- 1. human percepts vs synthetic labels (section 4.2) --------------------------------------------------------

    def fig_4_0(self, n: int = 12) -> SavedFigure:
        """The first ``n`` stimuli rebuilt in pixel space, each titled with lambda_f and its endpoint classes (not
        a figure of the thesis)."""
        return self.save(plots.stimuli_grid(self.cifar10.images, self.stimuli, n=n), "fig_4_0_stimuli")

    def participant_statistics(self) -> pd.DataFrame:
        """Section 4.2.1's crowdsourcing numbers (participants, images each, repeats) from the raw trials, beside
        the thesis's."""
        return self.show(analysis.participant_statistics({s.name for s in self.stimuli}))

    def fig_4_2(self) -> SavedFigure:
        """Fig. 4.2: every human-inferred lambda_h against the lambda_f that generated the image; on aggregate
        close to the red line, with a wide spread."""
        return self.save(plots.fig_4_2(self.frame), "fig_4_2_inferred_vs_generating")

    def lambda_h_by_lambda_f(self) -> pd.DataFrame:
        """Fig. 4.2 as numbers: lambda_h's median and quartiles at each lambda_f (all judgements pooled)."""
        return self.show(analysis.lambda_h_by_lambda_f(self.frame))

    def example_relabellings(self) -> pd.DataFrame:
        """Fig. 4.3's examples: per class pair and lambda_f, the stimulus relabelled most and the one whose mean
        lambda_h is nearest the thesis's printed value."""
        return self.show(analysis.example_relabellings(self.frame))

    def fig_4_3(self) -> SavedFigure:
        """Fig. 4.3: the example stimuli with their generating and average human-inferred coefficients."""
        fig = plots.fig_4_3(self.cifar10.images, analysis.example_relabellings(self.frame))
        return self.save(fig, "fig_4_3_example_relabellings")

    def fig_4_4(self) -> SavedFigure:
        """Fig. 4.4: lambda_h against lambda_f for the ``boundary`` class pair (thesis: deer-airplane), both as the
        weight of the first class: a category boundary, far from the linear mixup line."""
        return self.save(plots.fig_4_4(analysis.category_boundary(self.frame, *self.boundary)),
                         "fig_4_4_category_boundary")

    def fig_4_5(self) -> SavedFigure:
        """Fig. 4.5: confidence omega when both endpoints are ambiguous under CIFAR-10H (H >= 0.5) against both
        clear (H <= 0.1)."""
        return self.save(plots.fig_4_5(analysis.confidence_by_endpoint_entropy(self.frame)),
                         "fig_4_5_confidence_by_entropy")

    def statements(self) -> pd.DataFrame:
        """Each statement of section 4.2.2 with its test, on stimulus means (primary) and on judgements: written
        to results/tables/chapter4_statements.csv, shown readable (and returned as shown)."""
        found = analysis.statement_tests_by_level(self.frame)
        tables.write_csv(found, self.results / "tables" / STATEMENTS_CSV)
        return self.show(analysis.readable_statements(found))

    # -- 2. learning with human perceptual knowledge (section 4.3) --------------------------------------------------

    def train(self, **params) -> Grid:
        """Section 4.3's runs for the tables asked for, with this notebook's seeds, model and confidence_gamma
        (``params`` override them), through the run cache."""
        return super().train(**{"confidence_gamma": self.confidence_gamma, **params})
