"""Label construction, named as in the thesis.

- :mod:`.varieties`  per-annotator soft labels: T1 / T2 x Uniform / Clamp / Semantic (section 3.2.2, B.4)
- :mod:`.aggregate`  Psi, de-aggregated pools, subsampling M annotators, CIFAR-10H votes (section 3.3)
- :mod:`.baselines`  hard, random, uniform, label smoothing (section 3.3, B.2)
- :mod:`.simulator`  the appendix B.5 soft-label simulator
- :mod:`.rulesets`   how far the thesis's and the authors' released label rules differ
"""

from thesis_lib.labels.aggregate import (aggregate, cifar10h_annotator_labels, draw_from_pool, pad_pool, psi,
                                         subsample_annotators)
from thesis_lib.labels.mixup import two_hot
from thesis_lib.labels.baselines import hard_labels, label_smoothing, random_labels, uniform_labels
from thesis_lib.labels.simulator import SoftLabelSimulator
from thesis_lib.labels.varieties import (DEFAULT_GAMMA, RULES, VARIETIES, annotator_labels, check_rules,
                                         cifar10s_annotator_labels, hmix_annotator_labels, parse_variety, soft_label)
from thesis_lib.labels import rulesets

def two_hot_label(lam, class_a, class_b):
    """The mixup label lam * e_a + (1 - lam) * e_b of one mixed image, shape (10,)."""
    return two_hot(lam, class_a, class_b)[0]


__all__ = [
    "DEFAULT_GAMMA", "RULES", "SoftLabelSimulator", "VARIETIES", "aggregate", "annotator_labels", "check_rules",
    "cifar10h_annotator_labels",
    "cifar10s_annotator_labels", "draw_from_pool", "hard_labels", "hmix_annotator_labels", "label_smoothing",
    "pad_pool", "parse_variety", "psi", "rulesets", "two_hot", "two_hot_label", "random_labels", "soft_label", "subsample_annotators", "uniform_labels",
]
