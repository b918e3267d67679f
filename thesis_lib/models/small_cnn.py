"""A small, fast CNN for CPU-only profiles and unit tests (not a thesis architecture).

The thesis's networks (ResNet-34A, ResNet-50, VGG-11, PreAct ResNets) are far too slow to train on a
laptop CPU, so CPU profiles of the companion swap in this network. Its design borrows the ingredients
that make airbench-style CIFAR nets (Jordan, 2024) cheap yet accurate:

- three conv groups of widths 24 / 64 / 128, each conv3x3 -> max-pool(2) -> BatchNorm -> GELU. Pooling
  *before* BN and GELU runs those on a quarter of the pixels; BatchNorm makes plain SGD/Adam stable.
  The first group is narrow (24, not 32) because on a CPU it is the memory-bound one (32x32 maps, a
  3-channel input that convolution kernels use poorly): 24 channels trained ~10-40% faster in our timings
  at the same CIFAR-10 accuracy after 5 epochs;
- a global max-pool and a single linear layer as the head;
- bias-free convs (every conv is followed by BatchNorm).

About 90k parameters and ~8.9M multiply-adds per 32x32 image (a training step costs roughly three
times that). Trained on the 7,000 CIFAR-10 training images of the thesis's 70/30 split (SGD, one-cycle,
flips) it reaches ~60% accuracy on the other 3,000 after 5 epochs (chance: 10%). Measured training
throughput on the 2-core development CPU (fp32, channels_last, soft-CE + SGD step, no other load):
roughly 1,300-2,000 images/s at batch 32 and 1,350-2,050 at batch 128, the spread being the shared
host; contiguous (NCHW) memory is ~30% slower. Like the thesis's models it expects *normalised* inputs;
use :func:`thesis_lib.models.get_model` for the pixel-space version.
"""

from __future__ import annotations

import torch
from torch import nn

SMALL_CNN_WIDTHS = (24, 64, 128)


class ConvGroup(nn.Sequential):
    """conv3x3 -> max-pool 2x2 -> BatchNorm -> GELU (pool first: BN and GELU see 4x fewer pixels)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(out_channels),
            nn.GELU(),
        )


class SmallCNN(nn.Module):
    """Three conv groups (32x32 -> 16 -> 8 -> 4), global max-pool, linear head."""

    def __init__(self, num_classes: int = 10, widths: tuple[int, ...] = SMALL_CNN_WIDTHS):
        super().__init__()
        groups, in_channels = [], 3
        for w in widths:
            groups.append(ConvGroup(in_channels, w))
            in_channels = w
        self.features = nn.Sequential(*groups)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.linear = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(self.pool(self.features(x)), 1))
