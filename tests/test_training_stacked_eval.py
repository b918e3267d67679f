"""thesis_lib.training.stacked_eval: K models evaluated as stacked passes give, model by model, what
thesis_lib.training.metrics.evaluate gives (clean metrics, FGSM loss and the kept log-softmax outputs).

The models differ (seeds, a few training steps each, so their BatchNorm running statistics differ from the batch
statistics and from each other) and are left in training mode: evaluating in training mode, with the wrong model's
running statistics, or attacking a model with another model's gradient changes the numbers far beyond the
tolerance. Both paths run in float32 (``evaluate`` always does); a stacked convolution is a grouped one, so the
arithmetic differs by rounding only (measured: < 1e-6 here), hence the 1e-5 tolerance.
"""

from __future__ import annotations

import math

import numpy as np

import pytest
import torch

from thesis_lib.models import get_model
from thesis_lib.training import metrics, stacked_eval
from thesis_lib.training.stacked_eval import evaluate_sets_stacked, evaluate_stacked

TOL = 1e-5
N = 64


def _soft(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.softmax(3 * torch.randn(n, 10, generator=g), dim=1)  # soft labels, not one-hot


def _images(n: int, seed: int) -> torch.Tensor:
    # uniform pixels: ~3% lie within eps of 0 or 1, so FGSM's clamp is exercised
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def models():
    """Three small CNNs from different seeds, each after three SGD steps in training mode (weights and running
    statistics moved), left in training mode."""
    out = []
    for seed in range(3):
        torch.manual_seed(seed)
        m = get_model("small_cnn")
        g = torch.Generator().manual_seed(100 + seed)
        opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        m.train()
        for _ in range(3):
            x, t = torch.rand(32, 3, 32, 32, generator=g), _soft(32, g)
            loss = metrics.soft_cross_entropy(m(x), t)
            opt.zero_grad()
            loss.backward()
            opt.step()
        out.append(m)
    return out


def _reference(models, images, targets, **kw):
    """metrics.evaluate model by model (torchattacks' FGSM): (results, outputs) per model."""
    ref = []
    for m, x, t in zip(models, images, targets):
        kept = {}
        ref.append((metrics.evaluate(m, x, t, outputs=kept, **kw), kept))
    return ref


def _assert_same(got, ref, fgsm=True):
    assert len(got) == len(ref)
    for (res, out), (res_ref, out_ref) in zip(got, ref):
        assert list(res) == list(res_ref)  # the same keys, in the same order (records keep it)
        for key in ("ce", "calibration", "accuracy") + (("fgsm_loss",) if fgsm else ()):
            assert res[key] == pytest.approx(res_ref[key], abs=TOL), key
        assert res["n"] == res_ref["n"] and res["calibration_bin_size"] == res_ref["calibration_bin_size"]
        assert set(out) == set(out_ref) == ({"log_probs", "fgsm_log_probs"} if fgsm else {"log_probs"})
        for key in out:
            assert out[key].dtype == torch.float32 and out[key].device.type == "cpu"
            torch.testing.assert_close(out[key], out_ref[key], atol=TOL, rtol=0)


@pytest.mark.parametrize("form", ["shared", "list", "stacked_tensor"])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_stacked_equals_evaluate_model_by_model(models, form, batch_size):
    if form == "shared":
        images, targets = _images(N, 0), _soft(N, torch.Generator().manual_seed(1))
        per_model = ([images] * 3, [targets] * 3)
    else:  # every model its own images and labels (Chapter 3's CIFAR-10S hold-out differs per seed)
        per_model = ([_images(N, 10 + i) for i in range(3)], [_soft(N, torch.Generator().manual_seed(20 + i))
                                                               for i in range(3)])
        images, targets = per_model if form == "list" else (torch.stack(per_model[0]), torch.stack(per_model[1]))
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    got = evaluate_stacked(models, images, targets, device="cpu", batch_size=batch_size)
    _assert_same(got, _reference(models, *per_model))
    # the models themselves are untouched: still in training mode, same weights and running statistics
    for m, state in zip(models, before):
        assert m.training and all(torch.equal(v, state[k]) for k, v in m.state_dict().items())


def test_the_numbers_tell_the_models_and_modes_apart(models):
    """The comparison above can fail: the three models' metrics differ from each other, and from what the same
    models give in training mode (batch statistics), by far more than the tolerance."""
    images, targets = _images(N, 0), _soft(N, torch.Generator().manual_seed(1))
    got = evaluate_stacked(models, images, targets, device="cpu")
    for key in ("ce", "fgsm_loss"):
        values = [r[key] for r, _ in got]
        assert min(abs(a - b) for i, a in enumerate(values) for b in values[i + 1:]) > 100 * TOL, key
    for m, (res, _) in zip(models, got):
        with torch.no_grad():
            train_mode_ce = metrics.soft_cross_entropy(m(images), targets).item()  # m is in training mode
        assert abs(train_mode_ce - res["ce"]) > 100 * TOL
    # each model's FGSM images are its own: attacking with the stack's first model's gradient changes the loss
    own = [r["fgsm_loss"] for r, _ in got]
    for i, m in enumerate(models[1:], 1):
        adv = metrics.fgsm_images(models[0], images, targets)
        m.eval()
        try:
            with torch.no_grad():
                borrowed = metrics.soft_cross_entropy(m(adv), targets).item()
        finally:
            m.train()
        assert abs(borrowed - own[i]) > 100 * TOL


def test_hard_labels_and_no_attack(models):
    images = _images(N, 3)
    labels = torch.randint(0, 10, (N,), generator=torch.Generator().manual_seed(4))
    _assert_same(evaluate_stacked(models, images, labels, device="cpu"), _reference(models, [images] * 3, [labels] * 3))
    got = evaluate_stacked(models, images, labels, device="cpu", fgsm=False)
    assert all(math.isnan(r["fgsm_loss"]) for r, _ in got)
    _assert_same(got, _reference(models, [images] * 3, [labels] * 3, fgsm=False), fgsm=False)
    # another FGSM budget is passed through
    _assert_same(evaluate_stacked(models, images, labels, device="cpu", eps=8 / 255),
                 _reference(models, [images] * 3, [labels] * 3, eps=8 / 255))


def test_sets_of_different_lengths_stack_apart(models, monkeypatch):
    """evaluate_sets_stacked: a set with the same length across models is one stack; a model whose set is longer
    is evaluated in a stack of its own; every model gets every one of its sets."""
    g = torch.Generator().manual_seed(5)
    lengths = (40, 40, 30)
    sets = [{"h": (_images(N, 0), _soft(N, torch.Generator().manual_seed(1))),
             "s": (_images(n, 30 + i), _soft(n, g))} for i, n in enumerate(lengths)]
    calls = []

    def spy(models, images01, soft_targets, **kw):
        calls.append((len(models), len(images01[0])))
        return evaluate_stacked(models, images01, soft_targets, **kw)

    monkeypatch.setattr(stacked_eval, "evaluate_stacked", spy)
    evaluated = evaluate_sets_stacked(models, sets, eps=metrics.FGSM_EPS, device="cpu")
    assert calls == [(3, N), (2, 40), (1, 30)]  # "h" as one stack of 3; "s" as a stack of 2 and one of 1
    assert [set(e) for e in evaluated] == [{"h", "s"}] * 3
    for name in ("h", "s"):
        _assert_same([e[name] for e in evaluated],
                     _reference(models, [s[name][0] for s in sets], [s[name][1] for s in sets]))
    assert [e["s"][0]["n"] for e in evaluated] == [40.0, 40.0, 30.0]


def test_bad_input_is_refused(models):
    images, targets = _images(8, 0), _soft(8, torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match="pixel space"):
        evaluate_stacked(models, images * 4 - 2, targets, device="cpu")
    with pytest.raises(ValueError, match="targets for"):
        evaluate_stacked(models, images, targets[:5], device="cpu")
    with pytest.raises(ValueError, match="image sets for 3 models"):
        evaluate_stacked(models, [images, images], targets, device="cpu")
    with pytest.raises(ValueError, match="differ in shape"):
        evaluate_stacked(models, [images, images, images[:4]], targets, device="cpu")
    with pytest.raises(ValueError, match="one architecture"):
        evaluate_stacked([models[0], get_model("vgg11")], images, targets, device="cpu")


@pytest.mark.parametrize("chapter, method", [(3, "T2Clamp"), (5, "ent_wc")])
def test_run_group_records_the_stacked_evaluation(tmp_path, monkeypatch, chapter, method):
    """runs.run._run_group evaluates each trained stack with execute.evaluate_stack and hands it to finish: every
    record's metrics (Chapter 5's corruption CE included) and outputs are what finish computes model by model from
    the same trained model, and its eval time includes its share of the stacked evaluation."""
    from thesis_lib.runs import execute, run
    from thesis_lib.runs.spec import make_spec

    seen = []

    def checked(p, curve, **kw):
        assert set(kw["evaluated"]) == set(p.rd.eval_sets) and kw["evaluated_time"] > 0
        record = execute.finish(p, curve, **kw)
        alone = execute.finish(p, curve, **{k: v for k, v in kw.items() if k not in ("evaluated", "evaluated_time")})
        assert record["metrics"].keys() == alone["metrics"].keys()
        for name, res in record["metrics"].items():
            ref = alone["metrics"][name]
            assert list(res) == list(ref), name
            for key, value in res.items():
                if key == "corruption_ce_by_type":
                    assert value.keys() == ref[key].keys()
                    assert all(value[c] == pytest.approx(ref[key][c], abs=TOL) for c in value)
                else:
                    assert value == pytest.approx(ref[key], abs=TOL), (name, key)
            out, out_ref = record["outputs"][name], alone["outputs"][name]
            assert out.keys() == out_ref.keys()
            assert (out["idx"] == out_ref["idx"]).all()
            for key in ("log_probs", "fgsm_log_probs"):
                assert out[key].dtype == out_ref[key].dtype and abs(out[key] - out_ref[key]).max() < TOL
        assert record["eval_time_s"] >= kw["evaluated_time"]
        seen.append((p.spec.key, {name: idx for name, (idx, _) in p.rd.eval_sets.items()}))
        return record

    monkeypatch.setattr(run, "finish", checked)
    extra = dict(train_subset=256, eval_subset=100, epochs=1)
    specs = [make_spec(chapter, method, None, s, "smoke", **extra) for s in (0, 1)]
    records = run.run_group(specs, device="cpu", runs_root=tmp_path)
    assert [key for key, _ in seen] == [s.key for s in specs] == [r["key"] for r in records]
    if chapter == 3:  # the CIFAR-10S hold-out differs per seed: the stack was evaluated on per-model images
        assert not np.array_equal(seen[0][1]["cifar10s"], seen[1][1]["cifar10s"])
    else:
        assert all(np.isfinite(r["metrics"]["cifar10h"]["corruption_ce"]) for r in records)
