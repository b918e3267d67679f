"""What a Chapter 5 / appendix C run trains on (section 5.2.2): full mixing over the 7,000 training images.

The spec's ``label_method`` names the algorithm, its ``extra`` the settings:

============================ ===============================================================================
algorithm                    batch policy and loss (:mod:`thesis_lib.training.soft_mixup`)
============================ ===============================================================================
``mixup``                    mixup, lambda_g = lambda_f, soft CE (alpha: Zhang et al.'s CIFAR-10 default 1.0;
                             the thesis does not state the one it used)
``mix_maxent``               Mix-MaxEnt: CE on clean + entropy maximisation on different-class mixes (alpha 10)
``ent_wc``                   mixup with the clamped entropy-weighted loss (alpha = 0.2, kappa = 0.7); the
                             weight log 2 / H is differentiable through the predictive entropy
``ent_wc_detached``          the same with the weight detached (a documented alternative, not the thesis's)
``tau`` / ``tau_ent_wc``     lambda_g = tau_ij(lambda_f), fitted to H-Mix, without / with Ent-WC (appendix C)
``logistic`` / ``..._ent_wc`` the same with one logistic not fitted to people (the missing baseline)
============================ ===============================================================================

Each hook draws its lambdas from a host Generator seeded with the run's seed (no device sync in a step).

``endpoints``: ``hard`` (CIFAR-10 labels) or ``soft`` (section 5.2.3): the 1,000 CIFAR-10S training images keep
their real human labels (T2 Clamp at the spec's gamma, aggregated by Psi over every annotator we have for the
image: Chapter 5 names no M, and these are all the labels there are), and only the 6,000 without CIFAR-10S labels
get simulated ones (appendix B.5), as the thesis says ("simulate more of our labels over the 6,000"). Both are
built under the spec's label rule set (``rules``: ``"thesis"``, the default, or ``"release"``); hard endpoints
need none.

Evaluation: the 3,000 held-out images against CIFAR-10H, and "Corruption CE": the mean CE over the 15
CIFAR-10-C corruptions at severity 3 of those images (:mod:`thesis_lib.data.cifar10c`), against CIFAR-10H.

**Model.** The thesis names a "PreAct ResNet-34" trained with Chapter 4's mixup code (Zhang et al.'s
``facebookresearch/mixup-cifar10``). In that code only ``ResNet18()`` is pre-activation; its ``ResNet34()`` is the
plain post-activation BasicBlock net [3, 4, 6, 3]. The two cannot both be what was run. The full profile trains
``preact_resnet34`` (PreActBlock [3, 4, 6, 3]), because it is the architecture the thesis names, and
"PreAct" is a deliberate word where the code's class name would have been "ResNet34"; the other reading is
runnable as ``resnet34_mixup`` for a sensitivity row (``models=["resnet34_mixup"]`` in :func:`thesis_lib.chapters.ch5.grid.build`, or
``python -m thesis_lib.run --chapter 5 --label-method ent_wc --model resnet34_mixup --profile quick``; too slow
on 2 CPU cores for the notebook's quick profile, where every model is the small CNN).

**Mixup alpha in Table C.1.** The thesis gives alpha only for Mix-MaxEnt (10) and Ent-WC (0.2); mixup, tau and the
logistic baseline run at Zhang et al.'s 1.0. The rows "mixup, Ent-WC" against "mixup, no Ent-WC" would then change
alpha and the loss together, so Table C.1 adds the non-Ent-WC variants at alpha = 0.2 (rows marked "alpha = 0.2"):
each Ent-WC row has a partner that differs in the loss only, and the alpha = 1.0 rows stay for the comparison with
the thesis's printed values.

Validation runs (``validation=True``) hold out ``VALIDATION_SIZE`` training images and are scored by CE on them
against CIFAR-10H, "the same validation method in Chapter 3" that section 5.2.2 uses to choose Mix-MaxEnt's alpha
from {5, 10, 20, 50}, Ent-WC's alpha from {0.1, 0.2, 0.4, 1, 5, 10} and its clamp kappa from {0, 0.2, 0.5, 0.7,
0.9} (:func:`thesis_lib.chapters.ch5.grid.run_tuning`).
"""

from __future__ import annotations

import numpy as np

from thesis_lib import data
from thesis_lib.chapters.common import eval_subset, validation_draw
from thesis_lib.core.catalogue import HYP
from thesis_lib.labels import SoftLabelSimulator, aggregate, annotator_labels, hard_labels
from thesis_lib.runs.run_data import RunData
from thesis_lib.runs.spec import RunSpec
from thesis_lib.training import soft_mixup as S
from thesis_lib.training.loop import Targets

ALGORITHMS = ("mixup", "mix_maxent", "ent_wc", "ent_wc_detached", "tau", "tau_ent_wc", "logistic",
              "logistic_ent_wc")
_MIXUP = {"alpha": HYP["mixup_alpha"]}
_ENT_WC = {"alpha": HYP["ent_wc_alpha"], "kappa": HYP["kappa"]}
#: Each algorithm's settings, the thesis's (section 5.2.2 and appendix C; values in the catalogue's ``HYP``).
DEFAULTS = {"mixup": _MIXUP, "mix_maxent": {"alpha": HYP["maxent_alpha"], "maxent_weight": HYP["maxent_weight"]},
            "ent_wc": _ENT_WC, "ent_wc_detached": _ENT_WC, "tau": _MIXUP, "tau_ent_wc": _ENT_WC,
            "logistic": {**_MIXUP, "k": HYP["logistic_k"]}, "logistic_ent_wc": {**_ENT_WC, "k": HYP["logistic_k"]}}
#: The mixup alpha of the Ent-WC variants (section 5.2.2), also used for the one-change-at-a-time rows of C.1.
ENT_WC_ALPHA = HYP["ent_wc_alpha"]


def check_label_method(method: str) -> str:
    if method not in ALGORITHMS:
        raise ValueError(f"unknown Chapter 5 algorithm {method!r}; expected one of {', '.join(ALGORITHMS)}")
    return method


def is_ent_wc(algo: str) -> bool:
    """Whether the algorithm trains with the clamped entropy-weighted loss (so takes Ent-WC's alpha and kappa)."""
    return algo.endswith("ent_wc") or algo == "ent_wc_detached"


def settings(spec: RunSpec) -> dict:
    """The algorithm's defaults overridden by the spec's ``extra`` (plus ``endpoints``, default hard)."""
    out = {"endpoints": "hard", **DEFAULTS[spec.label_method], **dict(spec.extra)}
    if out["endpoints"] not in ("hard", "soft"):
        raise ValueError(f"endpoints must be 'hard' or 'soft', got {out['endpoints']!r}")
    return out


def policy(spec: RunSpec):
    """``(batch_hook, loss_fn)`` for the spec's algorithm."""
    s, algo = settings(spec), spec.label_method
    if algo == "mix_maxent":
        return S.MixMaxEntHook(s["alpha"], seed=spec.seed), S.mix_maxent_loss(s["maxent_weight"])
    lambda_g = None
    if algo.startswith("tau"):
        lambda_g = S.tau_lambda_g(S.fit_tau(data.load_hmix_inferences()))
    elif algo.startswith("logistic"):
        lambda_g = S.generic_logistic(s["k"])
    loss = None
    if is_ent_wc(algo):
        loss = S.ent_wc_loss(s["kappa"], detach=algo == "ent_wc_detached")
    return S.MixupHook(s["alpha"], lambda_g, seed=spec.seed), loss


def soft_endpoints(train_idx: np.ndarray, seed: int, gamma: float = HYP["gamma"], rules: str = "thesis") -> np.ndarray:
    """Soft endpoints for the training images (section 5.2.3): CIFAR-10S images keep their real T2 Clamp labels
    (aggregated by Psi over all their annotators); the others get simulated CIFAR-10S-like labels (appendix B.5,
    the simulator fitted on CIFAR-10S), drawn with ``seed`` in the order of ``train_idx``. Both are built under
    the label rule set ``rules`` (:mod:`thesis_lib.labels.varieties`, which checks it)."""
    probs = data.load_cifar10h_probs()
    c10s = data.load_cifar10s()
    human = np.isin(train_idx, c10s.indices)
    out = np.empty((len(train_idx), probs.shape[1]))
    if human.any():
        real = aggregate(annotator_labels({int(i): c10s.elicitations[int(i)] for i in train_idx[human]}, "T2Clamp",
                                          gamma, rules=rules))
        out[human] = np.stack([real[int(i)] for i in train_idx[human]])
    if (~human).any():
        sim = SoftLabelSimulator.fit(c10s.elicitations, probs, data.class_similarity(), gamma, rules=rules)
        out[~human] = sim.simulate(probs[train_idx[~human]], seed=seed)
    return out


def run_data(spec: RunSpec) -> RunData:
    s = settings(spec)  # the label method and rules were checked by the spec (thesis_lib.runs.spec.check_spec)
    cifar10 = data.load_cifar10_test()
    split = data.load_uma_split()
    train_idx = split.train
    validation = None
    if spec.validation:  # drawn as in Chapter 3, before any smoke-profile subsetting
        validation = validation_draw(train_idx, spec.seed)
        train_idx = np.setdiff1d(train_idx, validation)
    if spec.train_subset is not None and spec.train_subset < len(train_idx):
        train_idx = np.sort(np.random.default_rng(spec.seed).choice(train_idx, size=spec.train_subset, replace=False))
    y = (soft_endpoints(train_idx, spec.seed, spec.gamma, spec.rules) if s["endpoints"] == "soft"
         else hard_labels(cifar10.labels[train_idx]))
    test = split.test
    test = eval_subset(test, spec)
    hook, loss = policy(spec)
    if validation is not None:  # scored on the held-out training images only; no corruption pass
        return RunData(train_idx, Targets(fixed=y), {"validation": (validation, data.load_cifar10h_probs()[validation])},
                       batch_hook=hook, loss_fn=loss)
    return RunData(train_idx, Targets(fixed=y), {"cifar10h": (test, data.load_cifar10h_probs()[test])},
                   batch_hook=hook, loss_fn=loss, corruption_eval=("cifar10h",))
