"""CIFAR-10 input normalisation as the first layer of every model.

Every model in :mod:`thesis_lib.models` takes images in ``[0, 1]`` pixel space and normalises them itself.
The reason is the FGSM robustness metric (thesis §3.3.1): the attack's l-inf budget (4/255) and its final
clamp to ``[0, 1]`` are defined in pixel space, so the model seen by the attack must consume pixels.
Putting the normalisation inside the model means training, evaluation and the attack all see one function
and nobody can forget (or double-apply) it.

Constants: the values the thesis's own training code used (cambridge-mlg/cifar-10s, taken from the mixup
repository): mean (0.4914, 0.4822, 0.4465) and the widely-circulated std (0.2023, 0.1994, 0.2010). That std is
not the dataset's true pixel std (0.2470, 0.2435, 0.2616); we keep the thesis's values so the full profile is
its protocol exactly. The difference only rescales the first layer's input.
"""

from __future__ import annotations

import torch
from torch import nn

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)  # as in the thesis's code (see above)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, for NCHW inputs in [0, 1].

    The statistics are non-persistent buffers: they move with ``.to(device)`` but are constants of the
    code, not of a checkpoint, so state dicts hold only what was learned.
    """

    def __init__(self, mean: tuple[float, ...] = CIFAR10_MEAN, std: tuple[float, ...] = CIFAR10_STD):
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"mean and std must have the same length, got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive, got {std}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Elementwise with (1,C,1,1) buffers keeps the input's memory format (channels_last stays so).
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={tuple(round(v, 4) for v in self.mean.flatten().tolist())}, " \
               f"std={tuple(round(v, 4) for v in self.std.flatten().tolist())}"
