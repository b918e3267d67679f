"""What a Chapter 5 / appendix C run trains on (section 5.2.2): full mixing over the 7,000 training images.

The spec's ``label_method`` names the algorithm, its ``extra`` the settings:

============================ ===============================================================================
algorithm                    batch policy and loss (:mod:`thesis_lib.soft_mixup`)
============================ ===============================================================================
``mixup``                    mixup, lambda_g = lambda_f, soft CE (alpha: Zhang et al.'s CIFAR-10 default 1.0;
                             the thesis does not state the one it used)
``mix_maxent``               Mix-MaxEnt: CE on clean + entropy maximisation on mixed (alpha = 10)
``ent_wc``                   mixup with the clamped entropy-weighted loss (alpha = 0.2, kappa = 0.7)
``tau`` / ``tau_ent_wc``     lambda_g = tau_ij(lambda_f), fitted to H-Mix, without / with Ent-WC (appendix C)
``logistic`` / ``..._ent_wc`` the same with one logistic not fitted to people (the missing baseline)
============================ ===============================================================================

``endpoints``: ``hard`` (CIFAR-10 labels) or ``soft`` (appendix B.5 simulator labels, section 5.2.3).
Evaluation: the 3,000 held-out images against CIFAR-10H, and "Corruption CE": the mean CE over the 15
CIFAR-10-C corruptions at severity 3 of those images (:mod:`thesis_lib.corruptions`), against CIFAR-10H.

Validation runs (``validation=True``) hold out ``VALIDATION_SIZE`` training images and are scored by CE on them
against CIFAR-10H, "the same validation method in Chapter 3" that section 5.2.2 uses to choose Mix-MaxEnt's alpha
from {5, 10, 20, 50}, Ent-WC's alpha from {0.1, 0.2, 0.4, 1, 5, 10} and its clamp kappa from {0, 0.2, 0.5, 0.7,
0.9} (:func:`run_tuning`).
"""

from __future__ import annotations

import numpy as np

from thesis_lib import data, soft_mixup as S
from thesis_lib.chapter3 import VALIDATION_SIZE, RunData
from thesis_lib.labels import SoftLabelSimulator, check_rules, hard_labels
from thesis_lib.runspec import RunSpec
from thesis_lib.train import Targets

ALGORITHMS = ("mixup", "mix_maxent", "ent_wc", "tau", "tau_ent_wc", "logistic", "logistic_ent_wc")
DEFAULTS = {"mixup": {"alpha": 1.0}, "mix_maxent": {"alpha": 10.0, "maxent_weight": 1.0},
            "ent_wc": {"alpha": 0.2, "kappa": 0.7}, "tau": {"alpha": 1.0}, "tau_ent_wc": {"alpha": 0.2, "kappa": 0.7},
            "logistic": {"alpha": 1.0, "k": 10.0}, "logistic_ent_wc": {"alpha": 0.2, "kappa": 0.7, "k": 10.0}}


def check_label_method(method: str) -> str:
    if method not in ALGORITHMS:
        raise ValueError(f"unknown Chapter 5 algorithm {method!r}; expected one of {', '.join(ALGORITHMS)}")
    return method


def settings(spec: RunSpec) -> dict:
    """The algorithm's defaults overridden by the spec's ``extra`` (plus ``endpoints``, default hard)."""
    out = {"endpoints": "hard", **DEFAULTS[check_label_method(spec.label_method)], **dict(spec.extra)}
    if out["endpoints"] not in ("hard", "soft"):
        raise ValueError(f"endpoints must be 'hard' or 'soft', got {out['endpoints']!r}")
    return out


def policy(spec: RunSpec):
    """``(batch_hook, loss_fn)`` for the spec's algorithm."""
    s, algo = settings(spec), spec.label_method
    if algo == "mix_maxent":
        return S.MixMaxEntHook(s["alpha"]), S.mix_maxent_loss(s["maxent_weight"])
    lambda_g = None
    if algo.startswith("tau"):
        lambda_g = S.tau_lambda_g(S.fit_tau(data.load_hmix_inferences()))
    elif algo.startswith("logistic"):
        lambda_g = S.generic_logistic(s["k"])
    loss = S.ent_wc_loss(s["kappa"]) if algo.endswith("ent_wc") else None
    return S.MixupHook(s["alpha"], lambda_g), loss


def soft_endpoints(train_idx: np.ndarray, seed: int, gamma: float = 0.1) -> np.ndarray:
    """Simulated CIFAR-10S-like labels for the training images (appendix B.5), fitted on CIFAR-10S."""
    probs = data.load_cifar10h_probs()
    sim = SoftLabelSimulator.fit(data.load_cifar10s().elicitations, probs, data.class_similarity(), gamma)
    return sim.simulate(probs[train_idx], seed=seed)


def run_data(spec: RunSpec) -> RunData:
    s = settings(spec)
    check_rules(spec.rules)  # recorded only: the simulated soft endpoints (B.5) use the thesis rules
    cifar10 = data.load_cifar10_test()
    split = data.load_uma_split()
    train_idx = split.train
    validation = None
    if spec.validation:  # drawn as in Chapter 3, before any smoke-profile subsetting
        validation = np.sort(np.random.default_rng(10_000 + spec.seed).choice(train_idx, VALIDATION_SIZE, replace=False))
        train_idx = np.setdiff1d(train_idx, validation)
    if spec.train_subset is not None and spec.train_subset < len(train_idx):
        train_idx = np.sort(np.random.default_rng(spec.seed).choice(train_idx, size=spec.train_subset, replace=False))
    y = soft_endpoints(train_idx, spec.seed, spec.gamma) if s["endpoints"] == "soft" else hard_labels(cifar10.labels[train_idx])
    test = split.test
    if spec.eval_subset is not None and spec.eval_subset < len(test):
        test = np.sort(np.random.default_rng(0).choice(test, size=spec.eval_subset, replace=False))
    hook, loss = policy(spec)
    if validation is not None:  # scored on the held-out training images only; no corruption pass
        return RunData(train_idx, Targets(fixed=y), {"validation": (validation, data.load_cifar10h_probs()[validation])},
                       batch_hook=hook, loss_fn=loss)
    return RunData(train_idx, Targets(fixed=y), {"cifar10h": (test, data.load_cifar10h_probs()[test])},
                   batch_hook=hook, loss_fn=loss, corruption_eval=("cifar10h",))


# ---------------------------------------------------------------------------------------------------------------
# Tables 5.1, 5.2 and C.1 as run specs (PreAct ResNet-34 at the full profile, 5 seeds); C.1 adds the baseline the
# thesis says is missing, a logistic not fitted to people (rows without thesis values).
# ---------------------------------------------------------------------------------------------------------------

TABLES = ("5.1", "5.2", "C.1")
_NAMES = {"mixup": "mixup", "mix_maxent": "Mix-MaxEnt", "ent_wc": "Ours (Ent-WC)"}


def overrides(chosen: dict | None) -> dict[str, dict]:
    """Per-algorithm ``extra`` from validation choices ``{"mix_maxent": {"alpha": a}, "ent_wc": {"alpha": a,
    "kappa": k}}``: Ent-WC's choices also hold for the tau and logistic Ent-WC variants of appendix C. Only values
    that differ from :data:`DEFAULTS` are kept, so the thesis's own choices keep the cache keys of a default grid."""
    out: dict[str, dict] = {}
    for algo, values in (chosen or {}).items():
        targets = [a for a in ALGORITHMS if a.endswith("ent_wc")] if algo == "ent_wc" else [check_label_method(algo)]
        for a in targets:
            diff = {k: float(v) for k, v in values.items() if k in DEFAULTS[a] and float(v) != DEFAULTS[a][k]}
            unknown = set(values) - set(DEFAULTS[a])
            if unknown:
                raise ValueError(f"{algo} has no setting {sorted(unknown)}; it has {sorted(DEFAULTS[a])}")
            if diff:
                out[a] = diff
    return out


def build_grid(profile: str, seeds=None, model: str | None = None, tables=TABLES, images: str | None = None,
               chosen: dict | None = None) -> dict:
    """The rows of each table; ``chosen`` replaces the thesis's alpha / kappa choices (see :func:`overrides`)."""
    from thesis_lib import profiles
    from thesis_lib.runspec import make_spec
    from thesis_lib.tables import Row

    ps = profiles.settings(profile)
    seeds = tuple(seeds) if seeds is not None else ps.seeds
    model = model or ps.mixup.models[-1]
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown table {sorted(unknown)}; Chapter 5 has {TABLES}")
    images = images or data.load_cifar10_test().provenance.source
    over = overrides(chosen)

    def specs(algo, endpoints="hard"):
        extra = {**over.get(algo, {}), **({"endpoints": "soft"} if endpoints == "soft" else {})}
        return tuple(make_spec(5, algo, model, s, profile, images=images, extra=extra) for s in seeds)

    rows = {
        "5.1": [Row(_NAMES[a], specs(a), eval_sets=("cifar10h",)) for a in ("mixup", "mix_maxent", "ent_wc")],
        "5.2": [Row(f"{_NAMES[a]}, {label}", specs(a, e), eval_sets=("cifar10h",))
                for a in ("mixup", "mix_maxent", "ent_wc") for e, label in (("hard", "Hard"), ("soft", "Ours (Soft)"))],
        "C.1": [Row(label, specs(a), eval_sets=("cifar10h",)) for label, a in (
            ("mixup, no Ent-WC", "mixup"), ("tau mixing, no Ent-WC", "tau"), ("mixup, Ent-WC", "ent_wc"),
            ("tau mixing, Ent-WC", "tau_ent_wc"), ("logistic not fitted to people, no Ent-WC", "logistic"),
            ("logistic not fitted to people, Ent-WC", "logistic_ent_wc"))],
    }
    return {t: rows[t] for t in tables}


# ---------------------------------------------------------------------------------------------------------------
# Validation choices of section 5.2.2, made as in Chapter 3 (lowest mean validation CE): Mix-MaxEnt's alpha; then
# Ent-WC's alpha at the thesis's kappa, and kappa at the chosen alpha.
# ---------------------------------------------------------------------------------------------------------------

MAXENT_ALPHAS = (5.0, 10.0, 20.0, 50.0)
ENT_WC_ALPHAS = (0.1, 0.2, 0.4, 1.0, 5.0, 10.0)
KAPPAS = (0.0, 0.2, 0.5, 0.7, 0.9)


def _candidates(profile, seeds, model, images, algo, name, values, fixed=None):
    from thesis_lib import profiles
    from thesis_lib.runspec import make_spec

    ps = profiles.settings(profile)
    seeds = tuple(seeds) if seeds is not None else ps.seeds
    model = model or ps.mixup.models[-1]
    images = images or data.load_cifar10_test().provenance.source
    out = {}
    for v in values:
        extra = {k: x for k, x in {**(fixed or {}), name: float(v)}.items() if x != DEFAULTS[algo][k]}
        out[v] = tuple(make_spec(5, algo, model, s, profile, images=images, validation=True, extra=extra)
                       for s in seeds)
    return out


def run_tuning(profile: str, seeds=None, model: str | None = None, images: str | None = None,
               device: str | None = None, jobs: int = 1):
    """Train every validation candidate (through the run cache) and choose; returns ``(chosen, score tables)``
    with ``chosen = {"mix_maxent": {"alpha": a}, "ent_wc": {"alpha": a, "kappa": k}}`` for :func:`build_grid`."""
    from thesis_lib.chapter3_grid import choose
    from thesis_lib.run import run_grid

    def stage(cands):
        records = {r["key"]: r for r in run_grid([s for ss in cands.values() for s in ss], device=device, jobs=jobs)}
        return choose(cands, records)

    kw = dict(profile=profile, seeds=seeds, model=model, images=images)
    scores = {}
    maxent_alpha, scores["Mix-MaxEnt alpha"] = stage(_candidates(**kw, algo="mix_maxent", name="alpha",
                                                                 values=MAXENT_ALPHAS))
    ent_alpha, scores["Ent-WC alpha"] = stage(_candidates(**kw, algo="ent_wc", name="alpha", values=ENT_WC_ALPHAS))
    kappa, scores["Ent-WC kappa"] = stage(_candidates(**kw, algo="ent_wc", name="kappa", values=KAPPAS,
                                                      fixed={"alpha": float(ent_alpha)}))
    chosen = {"mix_maxent": {"alpha": float(maxent_alpha)}, "ent_wc": {"alpha": float(ent_alpha), "kappa": float(kappa)}}
    return chosen, scores
