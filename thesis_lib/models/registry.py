"""Models by name, each wrapped to take images in [0, 1] pixel space.

``get_model(name)`` returns ``nn.Sequential(normalize=Normalize(), net=<architecture>)``: the first layer
applies the CIFAR-10 normalisation so that the FGSM metric can perturb and clamp pixels directly (see
:mod:`thesis_lib.models.normalize`). ``model.net`` is the bare architecture.

Names and where the thesis uses them:

=================== =========================================================== ===================
name                architecture                                                thesis
=================== =========================================================== ===================
``resnet34a``       Uma et al.'s CIFAR ResNet, 3x7 basic blocks, option-A        Ch. 3 (main model)
``resnet50``        CIFAR ResNet-50, Bottleneck [3, 4, 6, 3]                     Ch. 3
``vgg11``           CIFAR VGG-11 with BatchNorm                                  Ch. 3
``preact_resnet18`` mixup-code PreAct ResNet-18, PreActBlock [2, 2, 2, 2]        Ch. 4
``preact_resnet34`` mixup-code PreAct ResNet-34, PreActBlock [3, 4, 6, 3]        Ch. 5 (full profile)
``resnet34_mixup``  mixup-code ``ResNet34()``: plain BasicBlock [3, 4, 6, 3]       Ch. 5 (sensitivity)
``small_cnn``       small fast CNN for CPU profiles and tests                    (companion only)
=================== =========================================================== ===================

Initialisation is PyTorch's default for every layer, as in the reference implementations the thesis ran
(none of them re-initialised). Construction draws only from torch's global RNG, so
``torch.manual_seed(s); get_model(name)`` is deterministic.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from torch import nn

from .normalize import Normalize
from .preact_resnet import preact_resnet18, preact_resnet34
from .resnet34a import ResNet34A
from .resnet_cifar import resnet34_mixup, resnet50_cifar
from .small_cnn import SmallCNN
from .vgg import vgg11

_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "resnet34a": lambda k: ResNet34A(num_classes=k),
    "resnet50": resnet50_cifar,
    "vgg11": vgg11,
    "preact_resnet18": preact_resnet18,
    "preact_resnet34": preact_resnet34,
    "resnet34_mixup": resnet34_mixup,
    "small_cnn": lambda k: SmallCNN(num_classes=k),
}

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def get_model(name: str, num_classes: int = 10) -> nn.Module:
    """Build the named model; it takes (N, 3, 32, 32) images in [0, 1] and returns (N, num_classes) logits."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; valid names are: {', '.join(MODEL_NAMES)}")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return nn.Sequential(OrderedDict(normalize=Normalize(), net=_BUILDERS[name](num_classes)))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
