"""Training: the single-run loop (:mod:`.loop`), stacked runs (:mod:`.multirun`), on-device augmentation
(:mod:`.augment`), the mixup policies and losses of Chapter 5 (:mod:`.soft_mixup`), the metrics of section 3.3.1
(:mod:`.metrics`, with Chapter 5's corruption CE on :mod:`thesis_lib.data.cifar10c`'s images). Knows no chapter."""
