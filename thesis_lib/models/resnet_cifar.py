"""ResNet-50 in its common CIFAR variant (thesis §3.3, "ResNet-50 (He et al., 2015)").

The thesis's code (``cambridge-mlg/cifar-10s``, ``computational_experiments/models/resnet.py``) takes its
ResNet-50 from the mixup repository (``facebookresearch/mixup-cifar10``, ``models/resnet.py``), which is the
widely used CIFAR adaptation of He et al. (2016):

- a single 3x3 stride-1 conv stem to 64 channels, BN, ReLU, and *no* max-pool (32x32 inputs are small);
- four stages of Bottleneck blocks [3, 4, 6, 3] at widths 64/128/256/512 (x4 expansion), strides 1/2/2/2,
  stride on the 3x3 conv;
- projection shortcuts (1x1 conv + BN) where shape changes, identity elsewhere;
- global average pool (the reference's ``avg_pool2d(out, 4)`` on 4x4 maps) and ``Linear(2048, classes)``;
- bias-free convs and PyTorch's default initialisation, as in the reference.

About 23.5M parameters with 10 classes.

The same file of the mixup code also defines ``ResNet34()`` as ``ResNet(BasicBlock, [3, 4, 6, 3])``, a plain
(post-activation) BasicBlock net, although thesis Chapter 5 calls its model a "PreAct ResNet-34".
:func:`resnet34_mixup` builds that net (about 21.3M parameters) so that the reading not chosen for the full
profile (see :mod:`thesis_lib.chapters.ch5.runs`) can be run as a sensitivity check.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def projection_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """1x1 conv + BN where a block changes shape (stride or width), else the identity."""
    if stride != 1 or in_channels != out_channels:
        return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                             nn.BatchNorm2d(out_channels))
    return nn.Identity()


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (strided) -> 1x1 expand, post-activation, projection shortcut on shape change."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class BasicBlock(nn.Module):
    """conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut (1x1 conv + BN on shape change), then ReLU:
    the post-activation block of the mixup code's ``ResNet18/34`` definitions."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class FourStageResNet(nn.Module):
    """The CIFAR ResNet layout shared by the Bottleneck ResNet-50 and the PreAct ResNets: a 3x3 stem to 64
    channels, four stages of ``block`` at widths 64/128/256/512 (strides 1/2/2/2), average pool, linear head.
    Expects *normalised* NCHW inputs. ``block`` needs an ``expansion`` attribute."""

    def __init__(self, block, blocks: tuple[int, int, int, int], num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_channels = 64
        stages = []
        for width, n, stride in zip((64, 128, 256, 512), blocks, (1, 2, 2, 2)):
            layers = []
            for s in [stride] + [1] * (n - 1):
                layers.append(block(in_channels, width, s))
                in_channels = width * block.expansion
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(torch.flatten(self.pool(out), 1))


class ResNetCifar(FourStageResNet):
    """CIFAR-style ResNet with Bottleneck blocks."""

    def __init__(self, blocks: tuple[int, int, int, int] = (3, 4, 6, 3), num_classes: int = 10):
        super().__init__(Bottleneck, blocks, num_classes)


def resnet50_cifar(num_classes: int = 10) -> ResNetCifar:
    """Bottleneck [3, 4, 6, 3]: the thesis's ResNet-50."""
    return ResNetCifar((3, 4, 6, 3), num_classes)


def resnet34_mixup(num_classes: int = 10) -> FourStageResNet:
    """BasicBlock [3, 4, 6, 3]: the mixup code's ``ResNet34()`` (post-activation), the alternative reading of the
    thesis's Chapter 5 "PreAct ResNet-34"."""
    return FourStageResNet(BasicBlock, (3, 4, 6, 3), num_classes)
