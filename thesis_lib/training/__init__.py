"""Training: the single-run loop (:mod:`.loop`), stacked runs (:mod:`.multirun`), on-device augmentation
(:mod:`.augment`), the mixup policies and losses of Chapter 5 (:mod:`.soft_mixup`), the metrics of section 3.3.1
(:mod:`.metrics`) and CIFAR-10-C corruptions (:mod:`.corruptions`). Knows no chapter."""
