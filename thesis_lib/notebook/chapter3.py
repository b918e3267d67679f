"""Chapter 3 and appendix B (notebook ``03_cifar10s``), one method per code cell.

Part 1, the data and the labels: the sources (:meth:`Chapter3.sources`), the validation of the elicitations
(:meth:`Chapter3.validation_report`), the thesis's and the authors' released label rules
(:meth:`Chapter3.rule_sets`, :meth:`Chapter3.differences_by_cause`, :meth:`Chapter3.statistics_by_rules`), the
figures of the labels (:meth:`Chapter3.fig_3_2` ... :meth:`Chapter3.fig_B_2`), the statistics the chapter quotes
(:meth:`Chapter3.statistics`) and the appendix B.5 simulator (:meth:`Chapter3.fig_B_5`,
:meth:`Chapter3.simulated_labels`). Part 2, learning with soft labels from every annotator: the validation choices
(:meth:`Chapter3.validation_choices`), the runs (:meth:`Chapter3.train`), Tables 3.1-3.4 and B.1-B.3
(:meth:`Chapter3.table`) and the figures drawn from runs (:meth:`Chapter3.fig_3_5`, :meth:`Chapter3.fig_B_3`,
:meth:`Chapter3.fig_3_6`). The computations live in :mod:`thesis_lib.chapters.ch3`.
"""

from __future__ import annotations

import pandas as pd

from thesis_lib import data, labels
from thesis_lib.chapters.ch3 import grid as chapter3_grid
from thesis_lib.chapters.ch3 import plots, stats
from thesis_lib.chapters.common import SavedFigure
from thesis_lib.core.catalogue import HYP
from thesis_lib.notebook.base import ChapterNotebook, check_bool, check_fraction, check_rules
from thesis_lib.reporting.render import display
from thesis_lib.runs.grid import Grid

#: the CSV of the statistics the chapter quotes (the report reads it)
STATISTICS_CSV = "chapter3_data_statistics.csv"


class Chapter3(ChapterNotebook):
    """The cells of notebook 03: CIFAR-10S's data and labels, and learning with soft labels from every annotator."""

    chapter = 3
    table_style = {"by_group": True}      # one line per evaluation set and row, as Chapter 3's tables print

    def __init__(self, profile: str = "quick", *, seeds=None, models=None, tables=None, gamma=None, beta=None,
                 rules: str = "thesis", tune: bool = False, device: str = "auto", jobs: int = 1, results_dir=None,
                 figures_dir=None):
        gamma = check_fraction("gamma", gamma, 0.0, 1.0, open_high=True)
        beta = check_fraction("beta", beta, 0.0, 1.0)
        rules, tune = check_rules(rules), check_bool("tune", tune)
        super().__init__(profile, seeds=seeds, models=models, tables=tables, device=device, jobs=jobs,
                         results_dir=results_dir, figures_dir=figures_dir)
        self.rules, self.tune = rules, tune
        self.gamma = HYP["gamma"] if gamma is None else gamma
        self.beta = HYP["beta"] if beta is None else beta
        self.lrs: dict[str, float] = {}
        self.counts, self.probs = data.load_cifar10h_counts(), data.load_cifar10h_probs()
        self.c10s = data.load_cifar10s()
        self.split = data.load_uma_split()
        pd.set_option("display.max_colwidth", 120)
        print(f"gamma = {self.gamma}{' (the thesis value)' if gamma is None else ''}, "
              f"beta = {self.beta}{' (the thesis value)' if beta is None else ''}, label rules: {self.rules}"
              + ("; tune=True: the validation choices replace gamma, beta and the learning rates before training"
                 if tune else ""))

    # -- 1. the data and the labels ---------------------------------------------------------------------------------

    def sources(self) -> pd.DataFrame:
        """Section 3.2.1's data: every source verified by its sha256, the CIFAR-10 test images' provenance, the
        CIFAR-10S images and elicitations, Uma et al.'s split and the exclusions; shows the table of sources."""
        print("\n".join(stats.data_overview(self.cifar10, self.c10s, self.split)))
        return self.show(stats.sources_table())

    def validation_report(self) -> pd.DataFrame:
        """How many elicitations were rejected as broken or kept under an explicit cleaning rule, by kind."""
        table = self.show(self.c10s.report.table())
        print(self.c10s.report)
        return table

    def rule_sets(self) -> pd.DataFrame:
        """How many T2 Clamp labels differ between the thesis's rules and the authors' released ones, and by how
        much (L1 distance), per collection."""
        return self.show(labels.rulesets.summary("T2Clamp", self.gamma))

    def differences_by_cause(self, collection: str) -> pd.DataFrame:
        """Which cleaning rule each T2 Clamp label that differs between the two rule sets falls under
        (``collection``: "CIFAR-10S" or "H-Mix")."""
        return self.show(labels.rulesets.differences_by_cause(collection, "T2Clamp", self.gamma))

    def statistics_by_rules(self) -> pd.DataFrame:
        """The chapter's label-dependent statistics and figure picks under both rule sets, and which moved."""
        return self.show(stats.statistics_by_rules(self.c10s, self.probs, self.cifar10.labels))

    def fig_3_2(self) -> SavedFigure:
        """Fig. 3.2: the four label varieties (T1/T2 x Uniform/Clamp) built from one annotator's answer."""
        idx, example = stats.variety_example(self.c10s)
        fig = plots.label_varieties(example, self.gamma, rules=self.rules,
                                    title=f"test image {idx}: " + plots.describe_elicitation(example))
        return self.save(fig, "fig_3_2_label_varieties")

    def comparison(self) -> pd.DataFrame:
        """Per CIFAR-10S image: its aggregated T2 Clamp label beside CIFAR-10H's, their distances and entropies
        (with this notebook's gamma and label rules)."""
        return stats.comparison_frame(self.c10s, self.probs, self.cifar10.labels, "T2Clamp", self.gamma,
                                      rules=self.rules)

    def fig_3_3(self) -> SavedFigure:
        """Fig. 3.3: CIFAR-10S also gives mass to a similar class (truck) where CIFAR-10H says automobile."""
        fig = plots.label_comparisons(self.cifar10.images, stats.similar_class_example(self.comparison()))
        return self.save(fig, "fig_3_3_similar_classes")

    def fig_3_4(self) -> SavedFigure:
        """Fig. 3.4: the two images whose labels differ most (Wasserstein) and a high-entropy CIFAR-10H label
        recovered closely from 8.5x fewer annotators."""
        frame = self.comparison()
        picks = pd.concat([stats.highest_wasserstein(frame, 2), stats.similar_rich_label(frame)])
        fig = plots.label_comparisons(self.cifar10.images, picks, thesis_classes=plots.THESIS_CLASSES["3.4"])
        return self.save(fig, "fig_3_4_cifar10s_vs_cifar10h")

    def fig_B_1(self) -> SavedFigure:  # noqa: N802 (the thesis's figure number)
        """Fig. B.1: the three images whose CIFAR-10S and CIFAR-10H labels differ most (the thesis: dog, frog,
        bird); prints their classes beside the thesis's."""
        picks = stats.highest_wasserstein(self.comparison(), 3)
        fig = plots.label_comparisons(self.cifar10.images, picks, thesis_classes=plots.THESIS_CLASSES["B.1"])
        saved = self.save(fig, "fig_B_1_highest_wasserstein")
        print("Fig B.1 classes:", stats.classes_of(picks), "(thesis: dog, frog, bird)")
        return saved

    def fig_B_2(self) -> SavedFigure:  # noqa: N802 (the thesis's figure number)
        """Fig. B.2: the three labels CIFAR-10S softens most (the thesis: truck, dog, airplane); prints their
        classes beside the thesis's."""
        picks = stats.softening_examples(self.comparison(), 3)
        fig = plots.label_comparisons(self.cifar10.images, picks, thesis_classes=plots.THESIS_CLASSES["B.2"])
        saved = self.save(fig, "fig_B_2_softening")
        print("Fig B.2 classes:", stats.classes_of(picks), "(thesis: truck, dog, airplane)")
        return saved

    def statistics(self) -> pd.DataFrame:
        """Every statistic the chapter quotes about CIFAR-10S and CIFAR-10H, computed from the data beside the
        thesis's value (written to results/tables/chapter3_data_statistics.csv); prints those that differ."""
        table = self.show(stats.statistics_table(stats.chapter3_statistics(self.c10s, self.counts, self.probs)),
                          csv=STATISTICS_CSV)
        differs = stats.differing_statistics(table)
        print(f"{len(differs)} statistic(s) differ from the thesis:")
        for line in differs:
            print(f" - {line}")
        return table

    def simulator(self) -> labels.SoftLabelSimulator:
        """Appendix B.5's soft-label simulator, fitted on CIFAR-10S (with this notebook's gamma and label rules)."""
        return labels.SoftLabelSimulator.fit(self.c10s.elicitations, self.probs, data.class_similarity(), self.gamma,
                                             rules=self.rules)

    def fig_B_5(self) -> SavedFigure:  # noqa: N802 (the thesis's appendix)
        """Appendix B.5: the Beta densities fitted to the human top-1 and top-2 probabilities and the histogram of
        alternatives left possible, on low- and high-entropy images."""
        fig = plots.simulator_fit(self.simulator(), stats.entropy_bands(self.c10s, self.probs))
        return self.save(fig, "fig_B_5_simulator_fit")

    def simulated_labels(self) -> pd.DataFrame:
        """The simulator's labels for the 7,000 training images (Chapter 5's) beside the human per-annotator T2
        Clamp labels: mean top probability and mean classes with mass."""
        return self.show(stats.simulated_vs_human(self.simulator(), self.c10s, self.probs, self.split.train,
                                                  self.gamma, self.rules))

    # -- 2. learning with soft labels from every annotator ----------------------------------------------------------

    def validation_choices(self) -> dict:
        """The thesis chose gamma, beta and each model's starting learning rate on a validation set. With
        ``tune=True`` every candidate is trained (:func:`thesis_lib.chapters.ch3.grid.run_tuning`), its scores
        shown, and the best replaces the thesis's value; returns ``{"gamma", "beta", "lr"}`` as used below."""
        if self.tune:
            chosen, scores = chapter3_grid.run_tuning(self.profile, self.seeds, self.models,
                                                      images=self.cifar10.provenance.source, device=self.device,
                                                      jobs=self.jobs)
            self.gamma, self.beta = float(chosen["gamma"]), float(chosen["beta"])
            self.lrs = {model: float(lr) for model, lr in chosen["lr"].items()}
            for name, table in scores.items():
                print(name)
                display(table)
        print(f"gamma = {self.gamma}, beta = {self.beta}, starting learning rates: "
              f"{self.lrs or 'the profile defaults (thesis: 0.1, ResNet-50 0.4)'}")
        return {"gamma": self.gamma, "beta": self.beta, "lr": dict(self.lrs)}

    def train(self, **params) -> Grid:
        """Section 3.3's runs for the tables and figures asked for, with this notebook's gamma, beta, learning
        rates, label rules, seeds and models (``params`` override them), through the run cache."""
        return super().train(**{"gamma": self.gamma, "beta": self.beta, "lrs": self.lrs, "rules": self.rules,
                                **params})

    def _figure(self, fid: str, name: str, **kw) -> SavedFigure | None:
        """A figure drawn from the runs of grid entry ``fid`` (:func:`plots.metric_curves` with ``kw``), saved as
        ``name``; ``None``, said so, when the ``tables`` parameter left it out."""
        grid = self._trained()
        if fid not in grid.figures:
            print(f"Fig. {fid}: not asked for (tables={list(self.tables + self.figure_runs)})")
            return None
        return self.save(plots.metric_curves(grid.figures[fid], self.records, **kw), name)

    def fig_3_5(self) -> SavedFigure | None:
        """Fig. 3.5: each metric against the estimated annotation cost M * t_per (CIFAR-10H 2.5 s a label, ours
        32 s), for every number of annotators M."""
        return self._figure("3.5", "fig_3_5_annotation_cost", x="x", log_x=True,
                            xlabel="estimated annotation cost M·t_per (s)")

    def fig_B_3(self) -> SavedFigure | None:  # noqa: N802 (the thesis's figure number)
        """Fig. B.3: the runs of Fig. 3.5 against the number of annotators per image M."""
        return self._figure("3.5", "fig_B_3_annotators", x="m", xlabel="annotators per image M", log_x=True)

    def fig_3_6(self) -> SavedFigure | None:
        """Fig. 3.6: training on only N' soft-labelled images, evaluated on CIFAR-10H."""
        return self._figure("3.6", "fig_3_6_training_examples", eval_sets=("cifar10h",), x="x",
                            xlabel="soft-labelled training examples N'")
