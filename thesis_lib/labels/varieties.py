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
stated probabilities are renormalised. These rules follow the released label construction of the CIFAR-10S
repository; the treatment of inconsistent elicitations is documented in :mod:`thesis_lib.data.elicitation`.
"""

from __future__ import annotations

import numpy as np

from thesis_lib import NUM_CLASSES
from thesis_lib.data.elicitation import Elicitation

VARIETIES = ("T1Uniform", "T1Clamp", "T1Semantic", "T2Uniform", "T2Clamp", "T2Semantic")
DEFAULT_GAMMA = 0.1
_EPS = 1e-9


def parse_variety(variety: str) -> tuple[bool, str]:
    """``"T2Clamp"`` -> ``(True, "Clamp")``. Also accepts ``"T2 Clamp"``, ``"T2, Clamp"`` and ``"t2clamp"``."""
    key = "".join(ch for ch in str(variety) if ch.isalnum()).lower()
    for name in VARIETIES:
        if key == name.lower() or key == name.lower().replace("uniform", "unif"):
            return name.startswith("T2"), name[2:]
    raise ValueError(f"unknown label variety {variety!r}; expected one of {', '.join(VARIETIES)}")


def soft_label(el: Elicitation, variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA,
               similarity: np.ndarray | None = None) -> np.ndarray:
    """The (10,) soft label of one elicitation under ``variety``; sums to one.

    ``similarity`` is the (10, 10) class similarity matrix needed by the Semantic varieties
    (:func:`thesis_lib.data.class_similarity`).
    """
    use_top2, redistribution = parse_variety(variety)
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must lie in [0, 1), got {gamma}")
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
                     similarity: np.ndarray | None = None) -> dict:
    """``{key: (M, 10) array}``, one row per annotator, for a ``{key: [Elicitation]}`` mapping."""
    parse_variety(variety)  # fail before doing any work
    if similarity is None and variety_needs_similarity(variety):
        from thesis_lib.data import class_similarity

        similarity = class_similarity()
    return {k: np.stack([soft_label(e, variety, gamma, similarity) for e in els]) for k, els in elicitations.items()}


def variety_needs_similarity(variety: str) -> bool:
    return parse_variety(variety)[1] == "Semantic"


def cifar10s_annotator_labels(variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA) -> dict[int, np.ndarray]:
    """``{test-set index: (M, 10)}`` per-annotator soft labels for the 1,000 CIFAR-10S images."""
    from thesis_lib.data import load_cifar10s

    return annotator_labels(load_cifar10s().elicitations, variety, gamma)


def hmix_annotator_labels(variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA) -> dict[str, np.ndarray]:
    """``{stimulus file name: (M, 10)}`` per-annotator soft labels for the 100 mixed images of section 5.1."""
    from thesis_lib.data import load_hmix_soft_label_elicitations

    return annotator_labels(load_hmix_soft_label_elicitations().elicitations, variety, gamma)
