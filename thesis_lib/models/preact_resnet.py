"""Pre-activation ResNets as in the mixup code of Zhang et al. (2017), used in thesis Chapters 4 and 5.

Chapter 4 (§4.3.1) "rel[ies] on the original mixup code provided by Zhang et al. (2017) and use[s] the same
PreAct ResNet-18"; Chapter 5 trains a PreAct ResNet-34. In ``facebookresearch/mixup-cifar10``
(``models/resnet.py``) ``ResNet18()`` is ``ResNet(PreActBlock, [2, 2, 2, 2])``; the 34-layer variant uses
the same block with [3, 4, 6, 3]. We follow that code's particular layout, which differs in two places
from the textbook pre-activation ResNet (He et al., 2016b):

- the stem is conv3x3(3->64) -> BN -> ReLU (the mixup ``ResNet`` class applies ``bn1`` + ReLU after the
  stem for every block type), and there is *no* final BN-ReLU before the global average pool;
- inside ``PreActBlock`` the shortcut branch starts from the *pre-activated* input ``relu(bn1(x))``, also
  when it is the identity (the textbook block adds the raw ``x``).

Widths 64/128/256/512, strides 1/2/2/2, 1x1 bias-free projection (no BN) where shape changes, bias-free
3x3 convs, PyTorch default initialisation. About 11.2M (18) and 21.3M (34) parameters with 10 classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .resnet_cifar import FourStageResNet


class PreActBlock(nn.Module):
    """BN -> ReLU -> conv3x3(stride) -> BN -> ReLU -> conv3x3, plus a shortcut from the pre-activation."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + self.shortcut(pre)  # shortcut from `pre`, as in the mixup code (see module docstring)


class PreActResNet(FourStageResNet):
    """Mixup-code PreAct ResNet (conv-BN-ReLU stem, no final BN before pooling, as in that code)."""

    def __init__(self, blocks: tuple[int, int, int, int], num_classes: int = 10):
        super().__init__(PreActBlock, blocks, num_classes)


def preact_resnet18(num_classes: int = 10) -> PreActResNet:
    """PreActBlock [2, 2, 2, 2] (thesis Chapter 4)."""
    return PreActResNet((2, 2, 2, 2), num_classes)


def preact_resnet34(num_classes: int = 10) -> PreActResNet:
    """PreActBlock [3, 4, 6, 3] (thesis Chapter 5)."""
    return PreActResNet((3, 4, 6, 3), num_classes)
