"""Per-annotator soft labels from one elicitation (thesis section 3.2.2, Fig. 3.2; appendix B.4).

A variety is ``T1`` or ``T2`` (use the most probable class only, or also the second) times a redistribution
``r`` of the mass the annotator left unspecified:

* ``Uniform``: spread equally over every class not chosen (the "definitely not" answers are ignored);
* ``Clamp``: spread equally over the classes not chosen *and not ruled out*. When the annotator specified the
  whole 100 % yet left some classes possible, those classes are taken to have a small probability: the stated
  mass is scaled by ``1 - gamma`` and ``gamma`` is spread over them (gamma = 0.1, chosen on a validation set
  in section 3.3);
* ``Semantic``: like Uniform, but in proportion to the GloVe cosine similarity of each class to the most
  probable class (clipped at zero), appendix B.4.

Every label is normalised to sum to one (section 3.2.2); when mass is left but no class may receive it, the
stated probabilities are renormalised.

Two rule sets, chosen with ``rules=``:

* ``"thesis"`` (default): the construction above, as section 3.2.2 states it, on elicitations cleaned by the
  documented rules of :mod:`thesis_lib.data.elicitation`.
* ``"release"``: the rules behind the authors' released per-annotator labels, applied to the values as typed
  (:attr:`Elicitation.typed`). Common to both releases (CIFAR-10S ``label_construction_utils.py`` and the H-Mix
  ``hmix_individ_soft_labels.json`` of ``cambridge-mlg/hill-mixup``):

  - a second choice that repeats the first class overwrites the first probability;
  - probabilities are used as typed: a 0 % choice is not "stated" (it can receive spread mass), and T1 uses the
    first probability unscaled even when the two passed 100 (the thesis's cleaning rescales them first);
  - a chosen class also ticked "definitely not" keeps its probability but stays impossible, and the spread
    mass is divided by the authors' count of classes to spread over, "classes not ticked minus classes with a
    stated probability"; each class that is possible and has no stated probability gets mass / count. When a
    chosen class is ticked, that count is smaller than the number of receiving classes (the final
    renormalisation absorbs the surplus); when the count is 0 nothing is spread.

  For stated mass of 100 or more with classes still possible (Clamp), CIFAR-10S scales the stated mass by
  ``1 - gamma`` and spreads ``gamma``, as the thesis does. H-Mix instead (a) at exactly 100 adds ``gamma`` to
  the remaining classes and renormalises the whole label, (b) past 100 takes 5 points off each stated
  probability (not below 0), then adds ``gamma`` and renormalises. Whether the stated mass is below, at or
  past 100 is decided as the release code decides it: the sum of the probabilities divided by 100, in floating
  point. The release defines no Semantic variety; under ``rules="release"`` it uses the release's
  reading of the elicitation with the similarity weights of appendix B.4.
"""

from __future__ import annotations

import numpy as np

from thesis_lib import NUM_CLASSES
from thesis_lib.core.catalogue import HYP
from thesis_lib.data import class_similarity, load_cifar10s, load_hmix_soft_label_elicitations
from thesis_lib.data.elicitation import Elicitation, Typed

VARIETIES = ("T1Uniform", "T1Clamp", "T1Semantic", "T2Uniform", "T2Clamp", "T2Semantic")
RULES = ("thesis", "release")
DEFAULT_GAMMA = HYP["gamma"]   # the thesis's (section 3.3), declared in the catalogue
HMIX_OVERSHOOT_CUT = 5.0   # points taken off each stated probability when an H-Mix elicitation passes 100
_EPS = 1e-9


def check_rules(rules: str) -> str:
    """``rules`` if it names a rule set, else a ValueError naming the valid ones."""
    if rules not in RULES:
        raise ValueError(f"unknown label rule set {rules!r}; expected one of {', '.join(map(repr, RULES))}")
    return rules


def parse_variety(variety: str) -> tuple[bool, str]:
    """``"T2Clamp"`` -> ``(True, "Clamp")``. Also accepts ``"T2 Clamp"``, ``"T2, Clamp"`` and ``"t2clamp"``."""
    key = "".join(ch for ch in str(variety) if ch.isalnum()).lower()
    for name in VARIETIES:
        if key == name.lower() or key == name.lower().replace("uniform", "unif"):
            return name.startswith("T2"), name[2:]
    raise ValueError(f"unknown label variety {variety!r}; expected one of {', '.join(VARIETIES)}")


def soft_label(el: Elicitation, variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA,
               similarity: np.ndarray | None = None, rules: str = "thesis") -> np.ndarray:
    """The (10,) soft label of one elicitation under ``variety``; sums to one.

    ``similarity`` is the (10, 10) class similarity matrix needed by the Semantic varieties
    (:func:`thesis_lib.data.class_similarity`). ``rules`` picks the thesis's or the released construction
    (module docstring).
    """
    use_top2, redistribution = parse_variety(variety)
    check_rules(rules)
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must lie in [0, 1), got {gamma}")
    if rules == "release":
        return _release_label(el.typed or _as_typed(el), use_top2, redistribution, gamma, similarity)
    label = np.zeros(NUM_CLASSES)
    label[el.top1] = el.p1 / 100.0
    chosen = {el.top1}
    if use_top2 and el.top2 is not None:
        label[el.top2] = el.p2 / 100.0
        chosen.add(el.top2)

    targets = [k for k in range(NUM_CLASSES) if k not in chosen]
    if redistribution == "Clamp":
        targets = [k for k in targets if k not in el.impossible]
    weights = _weights(targets, el.top1, redistribution, similarity)

    leftover = 1.0 - label.sum()
    if leftover > _EPS and targets:
        label[targets] += leftover * weights
    elif leftover <= _EPS and redistribution == "Clamp" and targets and gamma > 0:
        label *= 1.0 - gamma
        label[targets] += gamma * weights
    total = label.sum()
    if total <= 0:  # only possible with a 0 % first choice and nothing else: treat the choice as certain
        label[el.top1], total = 1.0, 1.0
    return label / total


def _as_typed(el: Elicitation) -> Typed:
    """An elicitation made in code (no typed values): it is consistent, so its cleaned values are as typed."""
    return Typed(el.top1, el.p1, el.top2, el.p2 if el.top2 is not None else None, el.impossible)


def _release_label(t: Typed, use_top2: bool, redistribution: str, gamma: float, similarity) -> np.ndarray:
    label = np.zeros(NUM_CLASSES)
    label[t.top1] = t.p1
    if use_top2 and t.top2 is not None and t.p2 is not None:
        label[t.top2] = t.p2                    # a second choice repeating the first overwrites it
    label = label / 100.0
    stated = label > 0.0
    if redistribution == "Clamp":
        possible = np.array([k not in t.impossible for k in range(NUM_CLASSES)])
        count = int(possible.sum() - stated.sum())   # the authors' count: unticked minus stated
        targets = np.flatnonzero(possible & ~stated)
    else:                                       # Uniform (and Semantic): every class without stated mass
        targets = np.flatnonzero(~stated)
        count = len(targets)
    if redistribution == "Semantic" and len(targets):
        share = _weights(list(targets), t.top1, redistribution, similarity)
    else:
        share = np.full(len(targets), 1.0 / count if count else 0.0)
    mass = np.sum(label)
    if mass <= 0.0:  # a 0 % first choice and nothing else: treat the choice as certain (as the thesis rules do)
        out = np.zeros(NUM_CLASSES)
        out[t.top1] = 1.0
        return out
    if mass < 1.0:
        if count:
            label[targets] += (1.0 - mass) * share
    elif redistribution == "Clamp" and count and gamma > 0:
        if t.source == "hmix":
            if mass > 1.0:
                label[stated] = np.maximum(label[stated] - HMIX_OVERSHOOT_CUT / 100.0, 0.0)
            label[targets] += gamma * share
        else:
            label = label / mass * (1.0 - gamma)
            label[targets] += gamma * share
    return label / label.sum()


def _weights(targets, top1: int, redistribution: str, similarity) -> np.ndarray:
    if not targets:
        return np.zeros(0)
    if redistribution != "Semantic":
        return np.full(len(targets), 1.0 / len(targets))
    if similarity is None:
        raise ValueError("Semantic redistribution needs the class similarity matrix (thesis_lib.data.class_similarity())")
    w = np.clip(np.asarray(similarity)[top1, targets], 0.0, None)
    return w / w.sum() if w.sum() > 0 else np.full(len(targets), 1.0 / len(targets))


def annotator_labels(elicitations: dict, variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA,
                     similarity: np.ndarray | None = None, rules: str = "thesis") -> dict:
    """``{key: (M, 10) array}``, one row per annotator, for a ``{key: [Elicitation]}`` mapping."""
    parse_variety(variety)  # fail before doing any work
    check_rules(rules)
    if similarity is None and variety_needs_similarity(variety):
        similarity = class_similarity()
    return {k: np.stack([soft_label(e, variety, gamma, similarity, rules) for e in els])
            for k, els in elicitations.items()}


def variety_needs_similarity(variety: str) -> bool:
    return parse_variety(variety)[1] == "Semantic"


def cifar10s_annotator_labels(variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA,
                              rules: str = "thesis") -> dict[int, np.ndarray]:
    """``{test-set index: (M, 10)}`` per-annotator soft labels for the 1,000 CIFAR-10S images."""
    return annotator_labels(load_cifar10s().elicitations, variety, gamma, rules=rules)


def hmix_annotator_labels(variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA,
                          rules: str = "thesis") -> dict[str, np.ndarray]:
    """``{stimulus file name: (M, 10)}`` per-annotator soft labels for the 100 mixed images of section 5.1."""
    return annotator_labels(load_hmix_soft_label_elicitations().elicitations, variety, gamma, rules=rules)
