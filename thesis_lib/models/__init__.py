"""Network architectures used in the thesis, by name, all taking images in [0, 1] pixel space.

>>> from thesis_lib.models import get_model, MODEL_NAMES
>>> model = get_model("resnet34a")          # Uma et al.'s ResNet-34A (thesis §3.3)

Modules, one concept each:

- ``normalize``      the in-model CIFAR-10 ``Normalize`` layer and its constants
- ``resnet34a``      Uma et al.'s CIFAR ResNet "ResNet-34A" (3 x 7 basic blocks, option-A shortcuts)
- ``resnet_cifar``   CIFAR ResNet-50 (Bottleneck [3, 4, 6, 3]); the mixup code's plain ResNet-34 (BasicBlock)
- ``preact_resnet``  mixup-code PreAct ResNet-18 / -34
- ``vgg``            CIFAR VGG-11 with BatchNorm
- ``small_cnn``      a small fast CNN for CPU profiles
- ``registry``       ``get_model`` / ``MODEL_NAMES``
"""

from .normalize import CIFAR10_MEAN, CIFAR10_STD, Normalize
from .registry import MODEL_NAMES, count_parameters, get_model

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "MODEL_NAMES", "Normalize", "count_parameters", "get_model"]
