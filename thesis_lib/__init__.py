"""Library behind the notebooks of the companion to Collins (2022).

Modules, one concept each:

- ``thesis_lib.data``    checksummed sources and typed loaders (CIFAR-10 test set, CIFAR-10H, CIFAR-10S, H-Mix, GloVe)
- ``thesis_lib.labels``  label construction named as in the thesis (T1/T2 x Uniform/Clamp/Semantic, Psi, pools,
  subsampling, baselines, the appendix B.5 soft-label simulator)
- ``thesis_lib.stats``   the dataset statistics Chapter 3 quotes, computed from the data
"""

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
NUM_CLASSES = len(CLASSES)

__version__ = "0.1.0"
