"""Tables 5.1, 5.2 and C.1 as run specs (section 5.2, appendix C): PreAct ResNet-34 at the full profile, 5 seeds,
and the validation choices of section 5.2.2. What each algorithm trains on is :mod:`thesis_lib.chapters.ch5.runs`
(its docstring says why C.1 has rows the thesis does not print)."""

from __future__ import annotations

from thesis_lib import data
from thesis_lib.chapters.ch5.runs import ALGORITHMS, DEFAULTS, ENT_WC_ALPHA, check_label_method, is_ent_wc
from thesis_lib.chapters.common import choose, one_model_grid
from thesis_lib.core import profiles
from thesis_lib.core.catalogue import table_ids
from thesis_lib.runs.grid import Grid, Row
from thesis_lib.runs.run import run_records
from thesis_lib.runs.spec import make_spec

# C.1 adds the baseline the thesis says is missing, a logistic not fitted to people, and the non-Ent-WC rows again
# at Ent-WC's alpha (rows without thesis values).
TABLES = table_ids(5)
_NAMES = {"mixup": "mixup", "mix_maxent": "Mix-MaxEnt", "ent_wc": "Ours (Ent-WC)"}
#: Table C.1: the thesis's four rows, the non-fitted logistic baseline, and the non-Ent-WC variants again at the
#: Ent-WC alpha so that every Ent-WC row has a partner differing in the loss alone (see the module docstring).
C1_ROWS = (("mixup, no Ent-WC", "mixup", None), ("tau mixing, no Ent-WC", "tau", None),
           ("mixup, Ent-WC", "ent_wc", None), ("tau mixing, Ent-WC", "tau_ent_wc", None),
           ("logistic not fitted to people, no Ent-WC", "logistic", None),
           ("logistic not fitted to people, Ent-WC", "logistic_ent_wc", None),
           ("mixup, no Ent-WC", "mixup", "ent_wc"), ("tau mixing, no Ent-WC", "tau", "ent_wc"),
           ("logistic not fitted to people, no Ent-WC", "logistic", "ent_wc"))
#: the third entry "ent_wc": the row runs at Ent-WC's alpha (0.2, or the validation choice) and its label says so.


def overrides(chosen: dict | None) -> dict[str, dict]:
    """Per-algorithm ``extra`` from validation choices ``{"mix_maxent": {"alpha": a}, "ent_wc": {"alpha": a,
    "kappa": k}}``: Ent-WC's choices also hold for the tau and logistic Ent-WC variants of appendix C. Only values
    that differ from :data:`DEFAULTS` are kept, so the thesis's own choices keep the cache keys of a default grid."""
    out: dict[str, dict] = {}
    for algo, values in (chosen or {}).items():
        targets = [a for a in ALGORITHMS if is_ent_wc(a)] if algo == "ent_wc" else [check_label_method(algo)]
        for a in targets:
            diff = {k: float(v) for k, v in values.items() if k in DEFAULTS[a] and float(v) != DEFAULTS[a][k]}
            unknown = set(values) - set(DEFAULTS[a])
            if unknown:
                raise ValueError(f"{algo} has no setting {sorted(unknown)}; it has {sorted(DEFAULTS[a])}")
            if diff:
                out[a] = diff
    return out


def build(profile: str, seeds=None, models=None, tables=None, figures=None, images: str | None = None,
          rules: str = "thesis", chosen: dict | None = None) -> Grid:
    """The grid of Tables 5.1, 5.2 and C.1 (``tables``, default all) for ``profile``; ``seeds`` and ``models`` (one
    model) override the profile's; ``chosen`` replaces the thesis's alpha / kappa choices (see :func:`overrides`);
    ``rules`` is every run's label rule set (the default keeps the default run keys; checked by each spec)."""
    seeds, model, tables = one_model_grid(5, profile, seeds, models, tables, figures,
                                          profiles.settings(profile).mixup.models[-1], TABLES)
    images = images or data.image_source()
    over = overrides(chosen)
    ent_alpha = float(over.get("ent_wc", {}).get("alpha", ENT_WC_ALPHA))

    def c1_label(label, alpha_of):
        return label if alpha_of is None else f"{label} (alpha = {ent_alpha:g})"

    def specs(algo, endpoints="hard", alpha=None):
        extra = {**over.get(algo, {}), **({"endpoints": "soft"} if endpoints == "soft" else {})}
        if alpha is not None:  # a fixed alpha (C.1's one-change rows); the default alpha keeps the default key
            extra = {k: v for k, v in {**extra, "alpha": float(alpha)}.items()
                     if not (k == "alpha" and v == DEFAULTS[algo]["alpha"])}
        return tuple(make_spec(5, algo, model, s, profile, images=images, extra=extra, rules=rules) for s in seeds)

    rows = {
        "5.1": [Row(_NAMES[a], specs(a), eval_sets=("cifar10h",)) for a in ("mixup", "mix_maxent", "ent_wc")],
        "5.2": [Row(f"{_NAMES[a]}, {label}", specs(a, e), eval_sets=("cifar10h",))
                for a in ("mixup", "mix_maxent", "ent_wc") for e, label in (("hard", "Hard"), ("soft", "Ours (Soft)"))],
        "C.1": [Row(c1_label(label, alpha_of), specs(a, alpha=ent_alpha if alpha_of else None), eval_sets=("cifar10h",))
                for label, a, alpha_of in C1_ROWS],
    }
    return Grid(profile, {t: rows[t] for t in tables})


# ---------------------------------------------------------------------------------------------------------------
# Validation choices of section 5.2.2, made as in Chapter 3 (lowest mean validation CE): Mix-MaxEnt's alpha; then
# Ent-WC's alpha at the thesis's kappa, and kappa at the chosen alpha.
# ---------------------------------------------------------------------------------------------------------------

MAXENT_ALPHAS = (5.0, 10.0, 20.0, 50.0)
ENT_WC_ALPHAS = (0.1, 0.2, 0.4, 1.0, 5.0, 10.0)
KAPPAS = (0.0, 0.2, 0.5, 0.7, 0.9)


def _candidates(profile, seeds, model, images, algo, name, values, fixed=None, rules="thesis"):
    ps = profiles.settings(profile)
    seeds = tuple(seeds) if seeds is not None else ps.seeds
    model = model or ps.mixup.models[-1]
    images = images or data.image_source()
    out = {}
    for v in values:
        extra = {k: x for k, x in {**(fixed or {}), name: float(v)}.items() if x != DEFAULTS[algo][k]}
        out[v] = tuple(make_spec(5, algo, model, s, profile, images=images, validation=True, extra=extra,
                                 rules=rules) for s in seeds)
    return out


def run_tuning(profile: str, seeds=None, model: str | None = None, images: str | None = None,
               device: str | None = "auto", jobs: int = 1, rules: str = "thesis"):
    """Train every validation candidate (through the run cache) and choose; returns ``(chosen, score tables)``
    with ``chosen = {"mix_maxent": {"alpha": a}, "ent_wc": {"alpha": a, "kappa": k}}`` for :func:`build`."""
    def stage(cands):
        return choose(cands, run_records([s for ss in cands.values() for s in ss], device=device, jobs=jobs))

    kw = dict(profile=profile, seeds=seeds, model=model, images=images, rules=rules)
    scores = {}
    maxent_alpha, scores["Mix-MaxEnt alpha"] = stage(_candidates(**kw, algo="mix_maxent", name="alpha",
                                                                 values=MAXENT_ALPHAS))
    ent_alpha, scores["Ent-WC alpha"] = stage(_candidates(**kw, algo="ent_wc", name="alpha", values=ENT_WC_ALPHAS))
    kappa, scores["Ent-WC kappa"] = stage(_candidates(**kw, algo="ent_wc", name="kappa", values=KAPPAS,
                                                      fixed={"alpha": float(ent_alpha)}))
    chosen = {"mix_maxent": {"alpha": float(maxent_alpha)}, "ent_wc": {"alpha": float(ent_alpha), "kappa": float(kappa)}}
    return chosen, scores
