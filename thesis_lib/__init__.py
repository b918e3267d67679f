"""Library behind the notebooks of the companion to Collins (2022).

Modules, one concept each:

- ``thesis_lib.data``    checksummed sources and typed loaders (CIFAR-10 test set, CIFAR-10H, CIFAR-10S, H-Mix, GloVe)
- ``thesis_lib.labels``  label construction named as in the thesis (T1/T2 x Uniform/Clamp/Semantic, Psi, pools,
  subsampling, baselines, the appendix B.5 soft-label simulator)
- ``thesis_lib.stats``   the dataset statistics Chapter 3 quotes, computed from the data
- ``thesis_lib.models``  the thesis's networks by name (ResNet-34A, ResNet-50, VGG-11, PreAct ResNet-18/34) and a
  small CNN for CPU profiles, each normalising [0, 1] pixels itself
- ``thesis_lib.metrics`` CE against soft labels, RMS calibration error (adaptive bins), FGSM loss (section 3.3.1)
- ``thesis_lib.train``   the GPU-resident training loop (soft targets, de-aggregated pools, mixup hooks)
- ``thesis_lib.profiles`` / ``runspec`` / ``cache`` / ``run``  profiles, run specifications and their keys, the
  atomic run cache, and ``python -m thesis_lib.run``
- ``thesis_lib.chapter3`` what a Chapter 3 run trains and evaluates on; ``summary``: mean +/- 95 % t-interval
"""

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
NUM_CLASSES = len(CLASSES)

__version__ = "0.1.0"
