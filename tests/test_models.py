"""Tests for thesis_lib.models: registry, shapes, parameter counts, normalisation, determinism."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from thesis_lib.models import CIFAR10_MEAN, CIFAR10_STD, MODEL_NAMES, Normalize, count_parameters, get_model
from thesis_lib.models.preact_resnet import PreActBlock
from thesis_lib.models.resnet34a import ZeroPadShortcut

EXPECTED_NAMES = {"resnet34a", "resnet50", "vgg11", "preact_resnet18", "preact_resnet34", "resnet34_mixup",
                  "small_cnn"}

# Parameter counts with 10 classes. Exact where worked out by hand below; otherwise the ballpark of the
# published CIFAR variants (ResNet-50 ~23.5M, PreAct ResNet-18 ~11.2M, PreAct ResNet-34 ~21.3M).
#
# resnet34a (3 stages x 7 basic blocks, biased convs, parameter-free option-A shortcut):
#   stem conv 3*16*9+16 = 448, BN 2*16 = 32
#   stage 1: 7 blocks * (2*(16*16*9+16) + 2*2*16)                      = 7 * 4704            =  32,928
#   stage 2: (16*32*9+32) + (32*32*9+32) + 2*2*32 = 14,016; + 6 * (2*9,248 + 128) = 111,744  -> 125,760
#   stage 3: (32*64*9+64) + (64*64*9+64) + 2*2*64 = 55,680; + 6 * (2*36,928 + 256) = 444,672 -> 500,352
#   linear 64*10+10 = 650                                      total: 448+32+32,928+125,760+500,352+650 = 660,170
# vgg11 (biased convs + BN + Linear(512, 10)):
#   convs 1,792 + 73,856 + 295,168 + 590,080 + 1,180,160 + 3 * 2,359,808 = 9,220,480
#   BN 2 * (64+128+256+256+512*4) = 5,504; linear 5,130                      total: 9,231,114
# small_cnn (bias-free convs 24/64/128, each + BN (2 params per channel), Linear(128, 10)):
#   3*24*9 + 48 + 24*64*9 + 128 + 64*128*9 + 256 + 128*10+10 = 648 + 48 + 13,824 + 128 + 73,728 + 256 + 1,290 = 89,922
EXACT_COUNTS = {"resnet34a": 660_170, "vgg11": 9_231_114, "small_cnn": 89_922}
COUNT_RANGES = {
    "resnet50": (23.4e6, 23.6e6),
    "preact_resnet18": (11.1e6, 11.25e6),
    "preact_resnet34": (21.2e6, 21.4e6),
    "resnet34_mixup": (21.2e6, 21.4e6),
}


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_registry_lists_exactly_the_thesis_models():
    assert isinstance(MODEL_NAMES, tuple)
    assert set(MODEL_NAMES) == EXPECTED_NAMES
    assert set(EXACT_COUNTS) | set(COUNT_RANGES) == EXPECTED_NAMES


def test_unknown_name_raises_and_lists_valid_names():
    with pytest.raises(ValueError) as err:
        get_model("resnet18")
    for name in MODEL_NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_num_classes_raises(bad):
    with pytest.raises(ValueError):
        get_model("small_cnn", num_classes=bad)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_logits_shape_in_both_modes(name, images):
    model = get_model(name)
    for train in (True, False):
        model.train(train)
        out = model(images)
        assert out.shape == (2, 10)
        assert torch.isfinite(out).all()
    assert get_model(name, num_classes=7).eval()(images).shape == (2, 7)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_parameter_count(name):
    n = count_parameters(get_model(name))
    if name in EXACT_COUNTS:
        assert n == EXACT_COUNTS[name]
    else:
        lo, hi = COUNT_RANGES[name]
        assert lo <= n <= hi, f"{name}: {n:,} parameters"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_first_layer_normalises_pixels(name, images):
    model = get_model(name).eval()
    first = next(iter(model.children()))
    assert isinstance(first, Normalize)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(images), model.net((images - mean) / std))


def test_normalisation_constants_are_the_thesis_codes():
    assert CIFAR10_MEAN == (0.4914, 0.4822, 0.4465)
    assert CIFAR10_STD == (0.2023, 0.1994, 0.2010)
    # Non-persistent: checkpoints hold only learned state.
    assert not any(k.startswith("normalize.") for k in get_model("small_cnn").state_dict())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_seeded_construction_is_deterministic(name):
    torch.manual_seed(123)
    a = get_model(name).state_dict()
    torch.manual_seed(123)
    b = get_model(name).state_dict()
    torch.manual_seed(124)
    c = get_model(name).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_channels_last_and_cpu_bf16_autocast(name, images):
    model = get_model(name).eval()
    with torch.no_grad():
        ref = model(images)
        model = model.to(memory_format=torch.channels_last)
        out = model(images.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # stand-in for CUDA bf16 autocast on this CPU box
            low = model(images[:1])
    assert low.shape == (1, 10) and torch.isfinite(low.float()).all()


def test_resnet34a_is_uma_cifar_resnet():
    """3 stages x 7 blocks x 2 convs + stem = 43 convs, + 1 linear = 44 weighted layers; widths 16/32/64;
    no 1x1 projection convs (option A is parameter-free)."""
    net = get_model("resnet34a").net
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 43
    assert all(c.kernel_size == (3, 3) and c.bias is not None for c in convs)
    assert sorted({c.out_channels for c in convs}) == [16, 32, 64]
    assert sum(isinstance(m, ZeroPadShortcut) for m in net.modules()) == 2
    assert net.linear.in_features == 64


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 16, 8, 8)
    out = ZeroPadShortcut(16, 32, stride=2)(x)
    assert out.shape == (2, 32, 4, 4)
    torch.testing.assert_close(out[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 16:]) == 0


def test_preact_block_shortcut_starts_from_preactivation():
    """Mixup-code layout: with the residual branch zeroed, an identity block returns relu(bn1(x)), not x."""
    block = PreActBlock(8, 8).eval()
    nn.init.zeros_(block.conv2.weight)
    x = torch.randn(2, 8, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(block.bn1(x)))


def test_both_readings_of_the_chapter5_resnet34():
    """Chapter 5's "PreAct ResNet-34" (full profile) and the mixup code's plain ``ResNet34()`` (sensitivity):
    the same [3, 4, 6, 3] stages of 3x3 pairs, pre-activation blocks in one, post-activation in the other."""
    from thesis_lib.models.resnet_cifar import BasicBlock

    pre, plain = get_model("preact_resnet34").net, get_model("resnet34_mixup").net
    assert sum(isinstance(m, PreActBlock) for m in pre.modules()) == 16
    assert sum(isinstance(m, BasicBlock) for m in plain.modules()) == 16
    assert not any(isinstance(m, PreActBlock) for m in plain.modules())
    # the plain net's projection shortcuts carry BatchNorm, the pre-activation net's do not
    assert len([m for m in plain.modules() if isinstance(m, nn.BatchNorm2d)]) == 1 + 16 * 2 + 3
    assert len([m for m in pre.modules() if isinstance(m, nn.BatchNorm2d)]) == 1 + 16 * 2
