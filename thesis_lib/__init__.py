"""Library behind the notebooks of the companion to Collins (2022), in layers that import only downwards
(ARCHITECTURE.md):

- ``thesis_lib.core``      the thesis catalogue (every table and figure, printed values, protocol settings), profiles
  (training schedules, output folders), atomic writes, mean +/- 95 % t-interval
- ``thesis_lib.data``      checksummed sources and typed loaders (CIFAR-10 test set, CIFAR-10H, CIFAR-10S, H-Mix, GloVe),
  CIFAR-10-C built from our own images
- ``thesis_lib.labels``    label construction named as in the thesis (T1/T2 x Uniform/Clamp/Semantic, Psi, pools,
  subsampling, baselines, the appendix B.5 soft-label simulator)
- ``thesis_lib.models``    the thesis's networks by name (ResNet-34A, ResNet-50, VGG-11, PreAct ResNet-18/34) and a
  small CNN for CPU profiles, each normalising [0, 1] pixels itself
- ``thesis_lib.training``  the GPU-resident training loop, stacked runs, augmentation, mixup policies and losses,
  metrics (section 3.3.1, and Chapter 5's corruption CE)
- ``thesis_lib.runs``      run specifications and their keys, grids (rows of specs) and RunData, the run cache, the
  chapter registry and the executors
- ``thesis_lib.chapters``  one folder per chapter notebook (``ch3``, ``ch4``, ``ch5``), each with ``grid.build`` and
  ``runs.run_data``, and what they share
- ``thesis_lib.reporting`` tables beside the thesis, rendering, claims, the report
- ``thesis_lib.cli``       every command line: ``python -m thesis_lib.run``, ``.grid``, ``.allocate``, ``.preflight``,
  ``.report``
"""

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
NUM_CLASSES = len(CLASSES)

__version__ = "0.1.0"
