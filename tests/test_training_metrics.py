"""Tests for thesis_lib.training.metrics (thesis §3.3.1): soft CE, RMS calibration, accuracy, FGSM, evaluate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from thesis_lib.training.metrics import (
    FGSM_EPS,
    accuracy,
    evaluate,
    fgsm_images,
    fgsm_loss,
    rms_calibration_error,
    soft_cross_entropy,
)
from thesis_lib.models import get_model

# --------------------------------------------------------------------------------------------------
# soft_cross_entropy
# --------------------------------------------------------------------------------------------------


def test_uniform_logits_give_log_k_for_any_target():
    # log softmax of equal logits is -log 10 in every class, and each target row sums to 1.
    targets = torch.softmax(torch.randn(5, 10), dim=1)
    ce = soft_cross_entropy(torch.zeros(5, 10), targets)
    assert ce.item() == pytest.approx(math.log(10), rel=1e-6)


def test_two_class_hand_cases():
    # logits (0, ln 3) -> softmax (1/4, 3/4).
    logits = torch.tensor([[0.0, math.log(3.0)]])
    one_hot = torch.tensor([[0.0, 1.0]])
    assert soft_cross_entropy(logits, one_hot).item() == pytest.approx(-math.log(0.75), rel=1e-6)
    half = torch.tensor([[0.5, 0.5]])
    expected = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))  # = 0.8370...
    assert soft_cross_entropy(logits, half).item() == pytest.approx(expected, rel=1e-6)
    # Integer class indices are one-hot targets.
    assert soft_cross_entropy(logits, torch.tensor([1])).item() == pytest.approx(-math.log(0.75), rel=1e-6)


def test_reductions_and_agreement_with_torch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 10, generator=g)
    targets = torch.softmax(torch.randn(6, 10, generator=g), dim=1)
    per = soft_cross_entropy(logits, targets, reduction="none")
    assert per.shape == (6,)
    torch.testing.assert_close(soft_cross_entropy(logits, targets), per.mean())
    torch.testing.assert_close(soft_cross_entropy(logits, targets, reduction="sum"), per.sum())
    # Independent implementation: torch's cross_entropy accepts probability targets.
    torch.testing.assert_close(per, F.cross_entropy(logits, targets, reduction="none"))


def test_gradient_is_softmax_minus_target():
    # d/dz [-sum_k p_k log softmax(z)_k] = softmax(z) - p for each example (mean over N=1).
    logits = torch.tensor([[0.3, -1.0, 2.0]], requires_grad=True)
    p = torch.tensor([[0.2, 0.5, 0.3]])
    soft_cross_entropy(logits, p).backward()
    torch.testing.assert_close(logits.grad, torch.softmax(logits.detach(), 1) - p)


def test_soft_cross_entropy_validates():
    with pytest.raises(ValueError):
        soft_cross_entropy(torch.zeros(3, 10), torch.zeros(3, 9))
    with pytest.raises(ValueError):
        soft_cross_entropy(torch.zeros(3, 10), torch.zeros(3, 10), reduction="avg")


# --------------------------------------------------------------------------------------------------
# rms_calibration_error
# --------------------------------------------------------------------------------------------------


def test_perfectly_calibrated_bins_give_zero():
    # Bin 1: 100 at confidence 0.3 with 30 correct; bin 2: 100 at 0.8 with 80 correct.
    conf = np.r_[np.full(100, 0.3), np.full(100, 0.8)]
    correct = np.r_[np.arange(100) < 30, np.arange(100) < 80]
    assert rms_calibration_error(conf, correct) == pytest.approx(0.0, abs=1e-12)


def test_two_bins_with_remainder_by_hand():
    # N = 250 -> 250 // 100 = 2 bins: [0, 100) and [100, 250) (the last absorbs the remainder).
    # Bin 1: 100 examples at confidence 0.3, 10 correct -> gap 0.3 - 0.1 = 0.2.
    # Bin 2: 150 examples with confidence linspace(0.85, 0.95) (mean 0.9), first 135 correct -> acc 0.9, gap 0.
    # error = sqrt(100/250 * 0.2^2 + 150/250 * 0) = sqrt(0.016) = 0.126491...
    # Had the remainder formed a third bin [200, 250), bin [100, 200) would be all correct (gap ~0.13)
    # and bin [200, 250) would hold the 15 wrong ones (gap ~0.23), giving a different value.
    conf = np.r_[np.full(100, 0.3), np.linspace(0.85, 0.95, 150)]
    correct = np.r_[np.arange(100) < 10, np.arange(150) < 135]
    perm = np.random.default_rng(0).permutation(250)  # input order must not matter: the metric sorts
    err = rms_calibration_error(conf[perm], correct[perm])
    assert err == pytest.approx(math.sqrt(0.016), rel=1e-9)


def test_fewer_examples_than_bin_size_is_one_bin():
    # 10 examples at confidence 0.7, 5 correct -> one bin, gap 0.2 -> error 0.2.
    conf = np.full(10, 0.7)
    correct = np.arange(10) < 5
    assert rms_calibration_error(conf, correct) == pytest.approx(0.2, rel=1e-9)


def test_small_bins_by_hand_and_torch_inputs():
    # bin_size 2, N = 5 -> bins {0.1, 0.2} and {0.6, 0.9, 1.0} after sorting.
    # Bin 1: mean conf 0.15, correct (0, 0) -> gap 0.15.  Bin 2: mean conf 2.5/3, correct (1, 1, 0) -> gap 0.5/3.
    # error = sqrt(2/5 * 0.15^2 + 3/5 * (0.5/3)^2) = sqrt(0.009 + 0.0166667) = 0.160208...
    conf = torch.tensor([0.9, 0.1, 1.0, 0.6, 0.2])
    correct = torch.tensor([True, False, False, True, False])
    expected = math.sqrt(2 / 5 * 0.15**2 + 3 / 5 * (0.5 / 3) ** 2)
    assert rms_calibration_error(conf, correct, bin_size=2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "conf, correct, bin_size",
    [
        ([0.5, 0.6], [1], 100),  # length mismatch
        ([], [], 100),  # empty
        ([0.5, 1.2], [1, 0], 100),  # confidence above 1
        ([-0.1, 0.5], [1, 0], 100),  # confidence below 0
        ([float("nan"), 0.5], [1, 0], 100),  # NaN
        ([0.5, 0.6], [1, 2], 100),  # correctness not 0/1
        ([0.5, 0.6], [1, 0], 0),  # bin size
        ([[0.5, 0.6]], [[1, 0]], 100),  # not 1-D
    ],
)
def test_calibration_validates_inputs(conf, correct, bin_size):
    with pytest.raises(ValueError):
        rms_calibration_error(conf, correct, bin_size=bin_size)


# --------------------------------------------------------------------------------------------------
# accuracy
# --------------------------------------------------------------------------------------------------


def test_accuracy_against_soft_label_argmax():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    soft = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4]])  # argmax 0, 1, 0
    assert accuracy(logits, soft) == pytest.approx(2 / 3)


# --------------------------------------------------------------------------------------------------
# FGSM and evaluate, on a small CNN briefly trained on synthetic separable data
# --------------------------------------------------------------------------------------------------


def _synthetic_data(n: int, seed: int):
    """10 classes, each a fixed random colour template; images = template + noise, in [0, 1].

    Soft targets put 0.7 on the true class and spread 0.3 over two neighbours, so they are not one-hot.
    """
    g = torch.Generator().manual_seed(seed)
    templates = torch.rand(10, 3, 1, 1, generator=torch.Generator().manual_seed(99)) * 0.6 + 0.2
    labels = torch.arange(n) % 10
    images = (templates[labels] + 0.08 * torch.randn(n, 3, 32, 32, generator=g)).clamp(0, 1)
    soft = torch.zeros(n, 10)
    soft[torch.arange(n), labels] = 0.7
    soft[torch.arange(n), (labels + 1) % 10] += 0.2
    soft[torch.arange(n), (labels + 2) % 10] += 0.1
    return images, soft


@pytest.fixture(scope="module")
def trained_small_cnn():
    torch.manual_seed(0)
    model = get_model("small_cnn")
    images, soft = _synthetic_data(320, seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(30):
        idx = torch.randperm(len(images))[:64]
        loss = soft_cross_entropy(model(images[idx]), soft[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    # 30 steps are too few for BatchNorm's running averages (momentum 0.1) to settle, which makes eval-mode
    # accuracy erratic; recompute them exactly from one pass over the training set ("precise BN").
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # cumulative average
        model(images)
    model.eval()
    return model


@pytest.fixture(scope="module")
def heldout():
    return _synthetic_data(200, seed=2)


def test_small_cnn_learns_the_synthetic_task(trained_small_cnn, heldout):
    images, soft = heldout
    with torch.no_grad():
        assert accuracy(trained_small_cnn(images), soft) > 0.9


def test_torchattacks_fgsm_uses_the_soft_label_loss(trained_small_cnn, heldout):
    images, soft = heldout
    images, soft = images[:32], soft[:32]
    # Hand-written FGSM that ascends the soft-label cross-entropy.
    x = images.clone().requires_grad_(True)
    loss = -(soft * F.log_softmax(trained_small_cnn(x), dim=1)).sum(dim=1).mean()
    (grad,) = torch.autograd.grad(loss, x)
    expected = (images + FGSM_EPS * grad.sign()).clamp(0, 1)
    adv = fgsm_images(trained_small_cnn, images, soft)
    torch.testing.assert_close(adv, expected, rtol=0, atol=1e-6)
    assert (adv - images).abs().max() <= FGSM_EPS + 1e-6
    # ... and it is not the attack on the argmax (hard) label.
    hard = F.one_hot(soft.argmax(1), 10).float()
    assert not torch.equal(adv, fgsm_images(trained_small_cnn, images, hard))


def test_fgsm_increases_the_loss(trained_small_cnn, heldout):
    images, soft = heldout
    with torch.no_grad():
        clean = soft_cross_entropy(trained_small_cnn(images), soft).item()
    assert fgsm_loss(trained_small_cnn, images, soft, eps=0.0) == pytest.approx(clean, rel=1e-5)
    attacked = fgsm_loss(trained_small_cnn, images, soft)  # 4/255
    stronger = fgsm_loss(trained_small_cnn, images, soft, eps=16 / 255)
    assert clean < attacked < stronger


def test_fgsm_loss_is_batch_size_invariant_and_restores_mode(trained_small_cnn, heldout):
    images, soft = heldout[0][:60], heldout[1][:60]
    model = trained_small_cnn
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    running_mean = bn.running_mean.clone()
    model.train()
    try:
        a = fgsm_loss(model, images, soft, batch_size=60)
        b = fgsm_loss(model, images, soft, batch_size=7)
        assert model.training  # mode restored
        assert torch.equal(bn.running_mean, running_mean)  # attacked in eval mode: BN stats untouched
    finally:
        model.eval()
    assert a == pytest.approx(b, rel=1e-5)


def test_fgsm_rejects_normalised_inputs(trained_small_cnn, heldout):
    images, soft = heldout
    with pytest.raises(ValueError):
        fgsm_loss(trained_small_cnn, images * 4 - 2, soft)


def test_evaluate_returns_the_suite(trained_small_cnn, heldout):
    images, soft = heldout
    model = trained_small_cnn
    out = evaluate(model, images, soft, batch_size=64)
    assert set(out) == {"ce", "calibration", "calibration_bin_size", "fgsm_loss", "accuracy", "n"}
    assert all(isinstance(v, float) for v in out.values())
    assert out["n"] == 200
    with torch.no_grad():
        logits = model(images)
    assert out["ce"] == pytest.approx(soft_cross_entropy(logits, soft).item(), rel=1e-5)
    assert out["accuracy"] == pytest.approx(accuracy(logits, soft))
    probs = logits.softmax(1)
    expected_cal = rms_calibration_error(probs.max(1).values, logits.argmax(1) == soft.argmax(1), bin_size=10)
    assert out["calibration"] == pytest.approx(expected_cal, rel=1e-5) and out["calibration_bin_size"] == 10
    assert out["fgsm_loss"] > out["ce"]
    # Batch size does not change the numbers; fgsm=False skips the attack.
    again = evaluate(model, images, soft, batch_size=500, fgsm=False)
    assert again["ce"] == pytest.approx(out["ce"], rel=1e-5)
    assert math.isnan(again["fgsm_loss"])


def test_calibration_bins_follow_the_evaluation_set(trained_small_cnn, heldout):
    """The thesis's code scores the 100 held-out CIFAR-10S images in bins of 10 (``run_eval.py``: n_bins = 10 for
    that set, 100 otherwise). Bins of 100 would make that set one bin, |mean confidence - accuracy|."""
    from thesis_lib.training.metrics import calibration_bin_size

    assert calibration_bin_size(100) == 10 and calibration_bin_size(3000) == 100
    images, soft = heldout[0][:100], heldout[1][:100]
    out = evaluate(trained_small_cnn, images, soft, fgsm=False)
    with torch.no_grad():
        logits = trained_small_cnn(images)
    conf, correct = logits.softmax(1).max(1).values, logits.argmax(1) == soft.argmax(1)
    assert out["calibration_bin_size"] == 10
    assert out["calibration"] == pytest.approx(rms_calibration_error(conf, correct, bin_size=10), rel=1e-5)
    one_bin = abs(conf.double().mean().item() - correct.double().mean().item())
    assert out["calibration"] != pytest.approx(one_bin, rel=1e-3)
    forced = evaluate(trained_small_cnn, images, soft, fgsm=False, bin_size=100)
    assert forced["calibration_bin_size"] == 100 and forced["calibration"] == pytest.approx(one_bin, rel=1e-5)
