"""The experiments of section 3.3 and appendix B as run specs: which runs make each table row and figure point.

Tables 3.1, 3.2 and B.1 average three architectures (ResNet-34A, ResNet-50, VGG-11); the rest use ResNet-34A
only, "for compute-resource considerations" (section 3.3.3). From Table 3.2 on, human labels are de-aggregated.
The quick and smoke profiles swap every model for the small CNN and use their own seeds. Runs with identical
specs (e.g. Table 3.2's rows inside Table B.1) share one cache entry, so nothing is trained twice.

Our labels come from M = 6 annotators per image wherever the thesis trains on them ("M = 6 ours": Tables 3.1,
3.2, 3.4, B.1-B.3, Fig. 3.6, and the gamma validation): every CIFAR-10S spec that does not set its own M (Table
3.3's M = 2 and 1, Fig. 3.5's M = 1..6) gets ``annotators=6``, drawn per image with the run's seed. CIFAR-10H
rows keep every vote (M ~ 51) unless they set M.
"""

from __future__ import annotations

from thesis_lib.chapters.common import choose
from thesis_lib.core import profiles
from thesis_lib.core.catalogue import HYP, figure_ids, table_ids
from thesis_lib.data import image_source
from thesis_lib.labels import VARIETIES
from thesis_lib.runs.grid import Grid, Point, Row
from thesis_lib.runs.run import run_records
from thesis_lib.runs.spec import RunSpec, make_spec

TABLES = table_ids(3)                       # 3.1-3.4 and B.1-B.3 (the thesis catalogue)
FIGURES = figure_ids(3, trained=True)       # 3.5 (and B.3, from its runs) and 3.6
T_PER = {"cifar10h": 2.5, "T2Clamp": 32.0}            # seconds per annotation (section 3.3.4)
FIG35_M = {"cifar10h": (1, 2, 4, 8, 16, 32, None),      # None: every CIFAR-10H vote (M ~ 51)
           "T2Clamp": (1, 2, 3, 4, 5, 6)}
FIG36_N = (250, 500, 750, 900)
FIG36_SEEDS_FULL = tuple(range(10))
VARIETY_ROWS = {"T1Uniform": "T1, Unif (12.8s)", "T1Clamp": "T1, Clamp (19.2s)",
                "T2Uniform": "T2, Unif (25.6s)", "T2Clamp": "T2, Clamp (32s)"}


def with_m(method: str, kw: dict) -> dict:
    """``kw`` with ``annotators`` = the thesis's M = 6 added for a CIFAR-10S label method that sets no M."""
    return {"annotators": HYP["annotators"], **kw} if method in VARIETIES and "annotators" not in kw else kw


def build(profile: str, seeds=None, models=None, tables=None, figures=None, images: str | None = None,
          rules: str = "thesis", gamma: float | None = None, beta: float | None = None,
          lrs: dict | None = None) -> Grid:
    """The grid for ``profile``: ``tables`` and ``figures`` (default: all of the chapter's; a figure drawn from runs
    only); ``seeds`` and ``models`` override the profile's (``models[0]`` plays ResNet-34A in the single-model
    experiments); ``gamma`` and ``beta`` default to the thesis's (:data:`thesis_lib.core.catalogue.HYP`); ``lrs``
    maps models to starting learning rates other than the profile's (the thesis's validated choices); ``rules`` is
    the label rule set of every run (``"thesis"`` or ``"release"``, :mod:`thesis_lib.labels.varieties`; checked by
    each spec, :func:`thesis_lib.runs.spec.check_spec`)."""
    ps = profiles.settings(profile)
    seeds = tuple(seeds) if seeds is not None else ps.seeds
    models = tuple(models) if models is not None else ps.chapter3.models
    tables = TABLES if tables is None else tuple(tables)
    figures = FIGURES if figures is None else tuple(figures)
    unknown = (set(tables) - set(TABLES)) | (set(figures) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown table/figure {sorted(unknown)}; Chapter 3 has {TABLES + FIGURES}")
    gamma = HYP["gamma"] if gamma is None else gamma
    beta = HYP["beta"] if beta is None else beta
    if images is None:
        images = image_source()

    lrs = lrs or {}

    def specs(method, on=models, over=seeds, **kw) -> tuple[RunSpec, ...]:
        kw = with_m(method, kw)
        return tuple(make_spec(3, method, m, s, profile, images=images, gamma=gamma, rules=rules, **kw,
                               **({"lr": lrs[m]} if m in lrs else {})) for m in on for s in over)

    main = models[:1]
    deagg = dict(deaggregate=True)
    t: dict[str, list[Row]] = {}
    if "3.1" in tables:
        t["3.1"] = [Row("Hard Labels", specs("hard")), Row("Random Labels", specs("random")),
                    Row("Uniform Labels", specs("uniform")), Row("CIFAR-10H", specs("cifar10h")),
                    Row("Ours (T2, Clamp)", specs("T2Clamp"))]
    if "3.2" in tables or "B.1" in tables:
        human = [Row("CIFAR-10H", specs("cifar10h", **deagg)), Row("Ours (T2, Clamp)", specs("T2Clamp", **deagg))]
        if "3.2" in tables:
            t["3.2"] = human
        if "B.1" in tables:
            t["B.1"] = [Row("Label Smoothing", specs("label_smoothing", beta=beta))] + human
    if "3.3" in tables:
        t["3.3"] = [Row(label, specs(method, main, annotators=m, **deagg), suffix=f" (M={m})")
                    for label, method in (("CIFAR-10H", "cifar10h"), ("Ours", "T2Clamp")) for m in (2, 1)]
    if "3.4" in tables:
        t["3.4"] = [Row(label, specs(v, main, **deagg)) for v, label in VARIETY_ROWS.items()]
    for tid, top in (("B.2", "T1"), ("B.3", "T2")):
        if tid in tables:
            t[tid] = [Row(r, specs(f"{top}{v}", main, **deagg)) for r, v in
                      (("Uniform", "Uniform"), ("Semantic", "Semantic"))]
    f: dict[str, list[Point]] = {}
    if "3.5" in figures:
        f["3.5"] = [Point(series, (m or 51) * T_PER[series], specs(series, main, annotators=m, **deagg), m or 51)
                    for series, ms in FIG35_M.items() for m in ms]
    if "3.6" in figures:
        fig_seeds = FIG36_SEEDS_FULL if profile == "full" and seeds == ps.seeds else seeds
        f["3.6"] = [Point(series, n, specs(series, main, fig_seeds, n_soft=n, **deagg))
                    for series in ("cifar10h", "T2Clamp") for n in FIG36_N]
    return Grid(profile, {tid: t[tid] for tid in tables}, {fid: f[fid] for fid in figures})   # in the order asked


# ---------------------------------------------------------------------------------------------------------------
# Validation-based choices (section 3.3, appendix B.2): each candidate is trained with validation images held out
# of the training set and scored by CE on them (against CIFAR-10H); the lowest mean CE wins.
# ---------------------------------------------------------------------------------------------------------------

GAMMAS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4)
BETAS = (0.0, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4)
LRS = (0.001, 0.01, 0.1, 0.2, 0.3, 0.4, 0.5)


def tuning_grid(profile: str, seeds=None, models=None, images: str | None = None,
                which=("gamma", "beta", "lr")) -> dict[str, dict]:
    """``{parameter: {candidate: specs}}`` (for ``lr``: ``{model: {candidate: specs}}``)."""
    ps = profiles.settings(profile)
    seeds = tuple(seeds) if seeds is not None else ps.seeds
    models = tuple(models) if models is not None else ps.chapter3.models
    if images is None:
        images = image_source()

    def specs(method, model, **kw):
        return tuple(make_spec(3, method, model, s, profile, images=images, validation=True, **with_m(method, kw))
                     for s in seeds)

    out: dict[str, dict] = {}
    if "gamma" in which:
        out["gamma"] = {g: specs("T2Clamp", models[0], gamma=g, deaggregate=True) for g in GAMMAS}
    if "beta" in which:
        out["beta"] = {b: specs("label_smoothing", models[0], beta=b) for b in BETAS}
    if "lr" in which:
        out["lr"] = {m: {lr: specs("hard", m, lr=lr) for lr in LRS} for m in models}
    return out


def run_tuning(profile: str, seeds=None, models=None, images: str | None = None, device: str | None = "auto",
               which=("gamma", "beta", "lr"), jobs: int = 1):
    """Train every validation candidate (through the cache) and choose; returns ``(chosen, score tables)`` with
    ``chosen = {"gamma": g, "beta": b, "lr": {model: lr}}`` for the parameters in ``which``."""
    grid = tuning_grid(profile, seeds, models, images, which)
    flat = {"gamma": grid.get("gamma", {}), "beta": grid.get("beta", {})}
    specs = [s for cands in flat.values() for ss in cands.values() for s in ss]
    specs += [s for per in grid.get("lr", {}).values() for ss in per.values() for s in ss]
    records = run_records(specs, device=device, jobs=jobs)
    chosen, scores = {}, {}
    for name in ("gamma", "beta"):
        if name in grid:
            chosen[name], scores[name] = choose(grid[name], records)
    if "lr" in grid:
        chosen["lr"] = {}
        for model, cands in grid["lr"].items():
            chosen["lr"][model], scores[f"lr {model}"] = choose(cands, records)
    return chosen, scores
