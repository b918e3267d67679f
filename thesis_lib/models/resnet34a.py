"""ResNet-34A: the CIFAR ResNet that Uma et al. (2020) trained on CIFAR-10H, reused by the thesis (§3.3).

What "ResNet-34A" means
-----------------------
The thesis says it employs "the same ResNet-34A" as Uma et al. (2020). The name is *not* the ImageNet
ResNet-34 (BasicBlock [3, 4, 6, 3], widths 64-512, ~21M parameters). It is the *CIFAR* family of He et al.
(2016, §4.2): three stages of basic residual blocks at widths 16 / 32 / 64 on 32x32 / 16x16 / 8x8 maps,
with the parameter-free **option-A** shortcut ("A" in the name). We established this by reading:

- Uma et al.'s code, ``AlexandraUma/dali-learning-with-disagreement``, file ``iccifar10/soft_loss.py``:
  ``ResNet(n=7, res_option='A')`` with a 3x3 conv stem to 16 channels, ``_make_layer(n, 16, 16, 1)``,
  ``(n, 32, 16, 2)``, ``(n, 64, 32, 2)``, an 8x8 average pool and ``Linear(64, 10)``; and
- the thesis's code, ``cambridge-mlg/cifar-10s``, ``computational_experiments/models/resnet_uma.py``, a copy
  of the above whose ``ResNet34A()`` returns ``ResNet(res_option="A")`` (so n = 7 as well).

With n = 7 blocks per stage the network has 6n + 2 = 44 weighted layers (He et al. would call it ResNet-44,
0.66M parameters); "34" is the authors' label, kept here because the thesis uses it. We reproduce the
reference's details that affect the function or the parameter count:

- conv layers keep their bias (PyTorch's default ``bias=True`` in the reference, redundant before
  BatchNorm but part of the 660,170 parameters);
- block: conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN -> (+ shortcut) -> ReLU;
- option-A shortcut, used only where the width changes (first block of stages 2 and 3): take every
  ``stride``-th pixel and append zero channels *after* the existing ones (the reference pads the channel
  dimension at its end, then subsamples with a 1x1 max-pool of stride 2, which is the same map);
- PyTorch's default initialisation (the reference never re-initialised).

Our code is written from that description, not copied.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Blocks per stage in Uma et al.'s ``ResNet(n=7)``.
BLOCKS_PER_STAGE = 7
#: Stage widths of the CIFAR ResNet family (He et al. 2016, §4.2).
STAGE_WIDTHS = (16, 32, 64)


class ZeroPadShortcut(nn.Module):
    """He et al.'s option-A shortcut: spatial subsampling plus zero-filled extra channels (no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError("option-A shortcut can only widen the channel dimension")
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # F.pad's last pair addresses dim 1 (channels): add zeros after the existing channels.
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))


class BasicBlockA(nn.Module):
    """Post-activation basic block with biased convs and an option-A shortcut where the width changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        # As in the reference, the shortcut is the identity unless the width changes (which, in this
        # network, is exactly when the block also downsamples).
        self.shortcut = (
            ZeroPadShortcut(in_channels, out_channels, stride) if in_channels != out_channels else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet34A(nn.Module):
    """Uma et al.'s CIFAR ResNet ("ResNet-34A"): 3 stages x 7 basic blocks, widths 16/32/64, option-A shortcuts.

    Expects *normalised* NCHW inputs; use :func:`thesis_lib.models.get_model` for the pixel-space model.
    """

    def __init__(self, num_classes: int = 10, blocks_per_stage: int = BLOCKS_PER_STAGE):
        super().__init__()
        w1, w2, w3 = STAGE_WIDTHS
        self.conv1 = nn.Conv2d(3, w1, 3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(w1)
        self.layer1 = self._stage(w1, w1, blocks_per_stage, stride=1)
        self.layer2 = self._stage(w1, w2, blocks_per_stage, stride=2)
        self.layer3 = self._stage(w2, w3, blocks_per_stage, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)  # = the reference's AvgPool2d(8) on 32x32 inputs
        self.linear = nn.Linear(w3, num_classes)

    @staticmethod
    def _stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
        first = BasicBlockA(in_channels, out_channels, stride)
        return nn.Sequential(first, *(BasicBlockA(out_channels, out_channels) for _ in range(blocks - 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(torch.flatten(self.pool(out), 1))
