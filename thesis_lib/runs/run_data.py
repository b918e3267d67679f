"""What one run trains and is evaluated on: every chapter's ``runs.run_data(spec)`` returns a :class:`RunData`,
and the engine (:mod:`thesis_lib.runs.execute`) trains and evaluates from it alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thesis_lib.training.loop import BatchHook, LossFn, Targets


@dataclass(frozen=True)
class RunData:
    train_idx: np.ndarray                                  # test-set indices trained on
    targets: Targets
    eval_sets: dict[str, tuple[np.ndarray, np.ndarray]]    # name -> (test-set indices, soft labels)
    images: np.ndarray | None = None                       # training images when not the test images at train_idx
    batch_hook: BatchHook | None = None                    # per-batch mixing policy (Chapter 5)
    loss_fn: LossFn | None = None                          # its loss (default: soft cross-entropy)
    corruption_eval: tuple[str, ...] = ()                  # eval sets also scored on CIFAR-10-C corruptions (Ch. 5)

    def training_images(self, all_images: np.ndarray) -> np.ndarray:
        return self.images if self.images is not None else all_images[self.train_idx]
