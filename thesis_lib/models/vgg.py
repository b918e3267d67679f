"""VGG-11 in its common CIFAR variant (thesis §3.3, "VGG-11 (Simonyan and Zisserman, 2014)").

As in the thesis's code (``cambridge-mlg/cifar-10s``, ``computational_experiments/models/vgg.py``, itself
from the mixup repository): configuration A of Simonyan & Zisserman,
[64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M], each conv 3x3 (biased, padding 1) followed by
BatchNorm and ReLU, 2x2 max-pools; five pools bring 32x32 down to 1x1, so a single ``Linear(512, classes)``
replaces the ImageNet classifier. (The reference appends ``AvgPool2d(kernel_size=1, stride=1)``, an
identity, which we omit.) PyTorch default initialisation. About 9.23M parameters with 10 classes.
"""

from __future__ import annotations

import torch
from torch import nn

VGG11_CONFIG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG(nn.Module):
    """VGG with BatchNorm for 32x32 inputs. Expects *normalised* NCHW inputs."""

    def __init__(self, config=VGG11_CONFIG, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_channels, item, 3, padding=1), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
                in_channels = item
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # flatten (not view): robust to channels_last, where the 1x1 feature map is not "viewable" as (N, C).
        return self.classifier(torch.flatten(self.features(x), 1))


def vgg11(num_classes: int = 10) -> VGG:
    return VGG(VGG11_CONFIG, num_classes)
