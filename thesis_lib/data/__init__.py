"""Checksummed sources and typed, validated loaders. See :mod:`thesis_lib.data.registry` for where data come from;
:mod:`thesis_lib.data.cifar10c` builds CIFAR-10-C from our own images (imported on its own: it needs SciPy)."""

from thesis_lib.data.cifar10 import CIFAR10Test, ImageProvenance, image_source, load_cifar10_test
from thesis_lib.data.cifar10h import entropy, load_cifar10h_counts, load_cifar10h_probs
from thesis_lib.data.cifar10s import CIFAR10S, load_cifar10s
from thesis_lib.data.elicitation import Elicitation, ElicitationReport, MalformedElicitation
from thesis_lib.data.glove import class_similarity, load_glove
from thesis_lib.data.hmix import (Stimulus, load_first_collection, load_hmix_inferences,
                                  load_hmix_soft_label_elicitations, mix_images, parse_stimulus)
from thesis_lib.data.registry import SOURCES, DataError, locate
from thesis_lib.data.splits import UmaSplit, cifar10s_holdout, load_uma_split

__all__ = [
    "CIFAR10S", "CIFAR10Test", "DataError", "Elicitation", "ElicitationReport", "ImageProvenance",
    "MalformedElicitation", "SOURCES", "Stimulus", "UmaSplit", "cifar10s_holdout", "class_similarity", "entropy",
    "image_source", "load_cifar10_test", "load_cifar10h_counts", "load_cifar10h_probs", "load_cifar10s",
    "load_first_collection",
    "load_glove", "load_hmix_inferences", "load_hmix_soft_label_elicitations", "load_uma_split", "locate",
    "mix_images", "parse_stimulus",
]
