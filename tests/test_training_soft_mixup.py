"""Chapter 5 / appendix C mixing policies and losses, with answers worked out by hand."""

import math

import numpy as np
import pytest
import torch

from thesis_lib.chapters.ch5 import grid as chapter5_grid
from thesis_lib.training import soft_mixup as S


def test_mixup_hook_mixes_inputs_and_labels_with_one_lambda():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(4.0).reshape(4, 1, 1, 1).expand(4, 3, 2, 2).clone()
    y = torch.eye(10)[[0, 1, 2, 3]]
    xm, ym = S.MixupHook(alpha=0.2, seed=3)(x, y, g)
    lam = S.sample_lambda(0.2, S.hook_rng(3))          # lambda: the hook's own host stream of the run's seed
    perm = torch.randperm(4, generator=torch.Generator().manual_seed(0))   # pairs: the loop's generator
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x[perm])
    torch.testing.assert_close(ym, lam * y + (1 - lam) * y[perm])
    torch.testing.assert_close(ym.sum(1), torch.ones(4))


def test_lambda_concentrates_with_alpha():
    g = np.random.default_rng(1)
    wide = [S.sample_lambda(0.2, g) for _ in range(400)]
    narrow = [S.sample_lambda(10.0, g) for _ in range(400)]
    assert np.mean(np.abs(np.array(narrow) - 0.5)) < 0.1 < np.mean(np.abs(np.array(wide) - 0.5))
    with pytest.raises(ValueError):
        S.sample_lambda(0.0, g)


def test_ent_wc_weights_by_hand():
    two = torch.tensor([[0.0, 0.0] + [-1e4] * 8])       # uniform over 2 classes: H = log 2 -> weight 1
    ten = torch.zeros(1, 10)                              # uniform over 10: log2/log10 = 0.301 -> floored at kappa
    sure = torch.tensor([[20.0] + [0.0] * 9])             # confident: H << log 2 -> capped at 1
    w = S.ent_wc_weights(torch.cat([two, ten, sure]), kappa=0.7)
    torch.testing.assert_close(w, torch.tensor([1.0, 0.7, 1.0]))
    w0 = S.ent_wc_weights(ten, kappa=0.0)
    assert w0.item() == pytest.approx(math.log(2) / math.log(10), rel=1e-5)
    y = torch.eye(10)[[0]]
    loss = S.ent_wc_loss(0.0)(ten.requires_grad_(), y)
    assert loss.item() == pytest.approx(math.log(2) / math.log(10) * math.log(10), rel=1e-5)  # w * CE
    with pytest.raises(ValueError):
        S.ent_wc_loss(1.5)


def test_mix_maxent_loss_is_clean_ce_minus_mixed_entropy():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 3, 4, 4), torch.eye(10)[[1, 2, 3]]
    xb, (yt, n) = S.MixMaxEntHook(alpha=10.0)(x, y, g)
    assert xb.shape[0] == 6 and n == 3 and torch.equal(xb[:3], x)
    logits = torch.zeros(6, 10)                                   # CE = log 10, H(mixed) = log 10
    assert S.mix_maxent_loss(1.0)(logits, (yt, n)).item() == pytest.approx(0.0, abs=1e-6)
    assert S.mix_maxent_loss(0.5)(logits, (yt, n)).item() == pytest.approx(0.5 * math.log(10), rel=1e-6)


def test_tau_fit_recovers_a_known_logistic_and_orients_pairs():
    import pandas as pd

    rng = np.random.default_rng(0)
    lam = rng.choice([0.1, 0.25, 0.5, 0.75, 0.9], 400)
    h = S.logistic(lam, 12.0, 0.4) + rng.normal(0, 0.01, 400)
    # half the stimuli list class 5 first: their coefficients are the other image's
    flip = np.arange(400) % 2 == 1
    df = pd.DataFrame({"class_a": np.where(flip, 5, 2), "class_b": np.where(flip, 2, 5),
                       "lambda_f": np.where(flip, 1 - lam, lam), "lambda_h": np.where(flip, 1 - h, h)})
    (k, m), = S.fit_tau(df).values()
    assert k == pytest.approx(12.0, rel=0.1) and m == pytest.approx(0.4, abs=0.02)
    lg = S.tau_lambda_g({(2, 5): (k, m)})
    out = lg(0.4, torch.tensor([2, 5, 3]), torch.tensor([5, 2, 3]))
    assert out[0].item() == pytest.approx(S.logistic(0.4, k, m), rel=1e-5)            # weight of class 2
    assert out[1].item() == pytest.approx(1 - S.logistic(0.6, k, m), rel=1e-5)        # turned around
    assert out[2].item() == pytest.approx(0.4)                                         # same class: lambda_f
    assert S.generic_logistic()(0.5, torch.tensor([1]), torch.tensor([2])).item() == pytest.approx(0.5)


def test_tau_fits_every_class_pair_of_hmix():
    from thesis_lib.data import load_hmix_inferences

    fits = S.fit_tau(load_hmix_inferences())
    assert len(fits) == 45 and all(k >= 0 for k, _ in fits.values())


def test_hooks_and_losses_train_end_to_end():
    from thesis_lib.models import get_model
    from thesis_lib.training.loop import Targets, TrainConfig, train

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    t = Targets(fixed=np.eye(10)[rng.integers(0, 10, 64)])
    cfg = TrainConfig(epochs=1, batch_size=32, lr=0.01)
    for hook, loss in ((S.MixupHook(0.2), S.ent_wc_loss(0.7)), (S.MixMaxEntHook(10.0), S.mix_maxent_loss()),
                       (S.MixupHook(0.2, S.generic_logistic()), S.ent_wc_loss(0.7))):
        torch.manual_seed(0)
        curve = train(get_model("small_cnn"), x, t, cfg, seed=0, device="cpu", batch_hook=hook, loss_fn=loss)
        assert math.isfinite(curve[0]["loss"])


def test_chapter5_runs_hard_and_soft_endpoints(tmp_path):
    from thesis_lib.chapters.ch5 import runs as chapter5
    from thesis_lib.runs.run import run_spec
    from thesis_lib.runs.spec import make_spec

    spec = make_spec(5, "ent_wc", None, 0, "smoke", extra={"endpoints": "soft"})
    assert chapter5.settings(spec) == {"endpoints": "soft", "alpha": 0.2, "kappa": 0.7}
    rd = chapter5.run_data(spec)
    y = rd.targets.fixed.numpy()
    assert len(y) == 1000 and np.allclose(y.sum(1), 1) and (y.max(1) < 1).mean() > 0.3   # softened endpoints
    for algo in ("mix_maxent", "tau_ent_wc"):
        rec = run_spec(make_spec(5, algo, None, 0, "smoke", train_subset=300, eval_subset=200), device="cpu",
                       runs_root=tmp_path)
        m = rec["metrics"]["cifar10h"]
        assert math.isfinite(m["ce"]) and math.isfinite(m["corruption_ce"]) and len(m["corruption_ce_by_type"]) == 15
        assert m["corruption_ce"] == pytest.approx(np.mean(list(m["corruption_ce_by_type"].values())))
    with pytest.raises(ValueError, match="unknown Chapter 5 algorithm"):
        chapter5.check_label_method("cutmix")
    with pytest.raises(ValueError, match="endpoints"):
        chapter5.settings(make_spec(5, "mixup", None, 0, "smoke", extra={"endpoints": "fuzzy"}))


def test_section_5_1_soft_composition():
    from thesis_lib.chapters.ch5 import analysis as A

    sc = A.soft_composition()
    assert sc.n_images == 100 and sc.n_labels >= 200
    assert 0.3 < sc.off_mass_mean < 0.5          # thesis: 38.3 %
    assert sc.pearson_r > 0.3 and sc.pearson_p < 1e-6
    # each label row's endpoint masses never exceed the whole label
    assert (sc.frame.mass <= 1 + 1e-9).all() and (sc.frame.mass >= 0).all()


def test_chapter5_validation_choices(tmp_path, monkeypatch):
    """Section 5.2.2's alpha / kappa choices: held-out validation images, a choice per sweep, and chosen values
    that reach the table grid (the thesis's own choices keep the default cache keys)."""
    from thesis_lib.chapters.ch5 import runs as chapter5
    from thesis_lib.runs.spec import make_spec

    spec = make_spec(5, "ent_wc", None, 0, "smoke", validation=True)
    rd = chapter5.run_data(spec)
    val = rd.eval_sets["validation"][0]
    assert set(rd.eval_sets) == {"validation"} and len(val) == 500 and not rd.corruption_eval
    assert not set(val) & set(rd.train_idx)                       # held out of training

    default = chapter5_grid.build("smoke", tables=("5.1",)).tables
    same = chapter5_grid.build("smoke", tables=("5.1",), chosen={"mix_maxent": {"alpha": 10}, "ent_wc": {"alpha": 0.2, "kappa": 0.7}}).tables
    assert [s.key for r in default["5.1"] for s in r.specs] == [s.key for r in same["5.1"] for s in r.specs]
    other = chapter5_grid.build("smoke", tables=("5.1", "C.1"), chosen={"ent_wc": {"kappa": 0.5}}).tables
    ent = [r for r in other["5.1"] if "Ent-WC" in r.label][0].specs[0]
    assert chapter5.settings(ent)["kappa"] == 0.5
    tau_ent = [r for r in other["C.1"] if r.label == "tau mixing, Ent-WC"][0].specs[0]
    assert chapter5.settings(tau_ent)["kappa"] == 0.5           # Ent-WC's choice holds for its tau variant too
    with pytest.raises(ValueError, match="no setting"):
        chapter5_grid.overrides({"ent_wc": {"beta": 1.0}})

    # two candidates per sweep keep the test short; the choice is the lowest validation CE of what was trained
    monkeypatch.setattr(chapter5_grid, "MAXENT_ALPHAS", (5.0, 10.0))
    monkeypatch.setattr(chapter5_grid, "ENT_WC_ALPHAS", (0.2, 1.0))
    monkeypatch.setattr(chapter5_grid, "KAPPAS", (0.0, 0.7))
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    chosen, scores = chapter5_grid.run_tuning("smoke", model="small_cnn", device="cpu")
    assert set(scores) == {"Mix-MaxEnt alpha", "Ent-WC alpha", "Ent-WC kappa"}
    for frame, (algo, name) in zip(scores.values(), (("mix_maxent", "alpha"), ("ent_wc", "alpha"), ("ent_wc", "kappa"))):
        assert len(frame) == 2 and frame["validation CE"].notna().all()
        best = frame.loc[frame["validation CE"].idxmin(), "candidate"]
        assert chosen[algo][name] == best
    # kappa = 0.7 at the chosen alpha is the alpha sweep's own run: one cache entry, trained once
    assert len(list(tmp_path.glob("smoke/*.json"))) == 5


def test_ent_wc_floor_below_log2_over_log10_never_binds():
    """H <= log 10 over CIFAR-10's classes, so log 2 / H >= 0.301: kappa 0 and 0.2 weigh every example alike,
    while kappa 0.5 lifts the most uncertain ones (what the validation sweep of section 5.2.2 sees)."""
    logits = torch.cat([torch.zeros(1, 10), torch.randn(255, 10, generator=torch.Generator().manual_seed(0)) * 3])
    w0, w02, w05 = (S.ent_wc_weights(logits, k) for k in (0.0, 0.2, 0.5))
    assert torch.equal(w0, w02) and w0.min() == pytest.approx(math.log(2) / math.log(10), rel=1e-5)
    assert (w05 >= w0).all() and (w05 > w0).any()


# --------------------------------------------------------------------------------------------------------------
# Issue 14: Ent-WC's weight carries gradient; Mix-MaxEnt mixes different classes; no host sync in a hook
# --------------------------------------------------------------------------------------------------------------


def test_ent_wc_weight_is_differentiable_through_the_entropy():
    """Between the cap and the floor, d w / d H = -log 2 / H^2 reaches the logits; the detached alternative does not."""
    logits = torch.tensor([[1.0, 0.5, 0.0] + [-1.0] * 7, [30.0] + [0.0] * 9]).requires_grad_()
    w = S.ent_wc_weights(logits, kappa=0.0)
    assert w.requires_grad and 0.301 < w[0].item() < 1.0 and w[1].item() == 1.0      # second row: capped
    w.sum().backward()
    assert logits.grad[0].abs().sum() > 0 and logits.grad[1].abs().sum() == 0
    assert not S.ent_wc_weights(logits, 0.0, detach=True).requires_grad
    # minimising w * CE at fixed CE raises the entropy: the step against the gradient increases H
    x = logits.detach()[:1].clone().requires_grad_()
    S.ent_wc_weights(x, 0.0).sum().backward()
    h_before = S.prediction_entropy(x.detach()).item()
    assert S.prediction_entropy(x.detach() - 0.1 * x.grad).item() > h_before


def _entropy_after_ent_wc_training(kappa: float, seed: int = 0) -> float:
    """Mean predictive entropy of a small MLP trained with mixup (alpha 1) and the Ent-WC loss on overlapping
    Gaussian classes (200 steps of batch 64, a few seconds)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(10, 16, generator=g) * 0.5
    classes = torch.randint(0, 10, (512,), generator=g)
    x, y = centers[classes] + torch.randn(512, 16, generator=g), torch.eye(10)[classes]
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hook, loss_fn = S.MixupHook(1.0), S.ent_wc_loss(kappa)
    for _ in range(200):
        idx = torch.randint(0, 512, (64,), generator=g)
        xm, ym = hook(x[idx], y[idx], g)
        loss = loss_fn(model(xm), ym)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return S.prediction_entropy(model(x)).mean().item()


def test_ent_wc_kappa_zero_drives_predictions_towards_uniform():
    """Section 5.2.2: kappa = 0 "leads the model to predict uniform labels", kappa = 0.7 keeps "a moderate amount of
    entropy". Only a weight with gradient can do this (a detached weight merely rescales each example's CE)."""
    h0, h07 = _entropy_after_ent_wc_training(0.0), _entropy_after_ent_wc_training(0.7)
    assert h0 > 0.75 * math.log(10) and h07 < 0.65 * math.log(10) and h0 - h07 > 0.4


def test_mix_maxent_mixes_each_example_with_a_different_class():
    """Pinto et al. mix pairs of different classes; partners are random among the other classes' examples."""
    g = torch.Generator().manual_seed(0)
    classes = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3])
    seen = set()
    for _ in range(50):
        partner = S.different_class_partners(classes, g)
        assert (classes[partner] != classes).all()
        seen.update(zip(range(8), partner.tolist()))
    assert {j for i, j in seen if i == 0} == {3, 4, 5, 6, 7}      # every other-class example gets chosen
    alone = S.different_class_partners(torch.tensor([4, 4, 4]), g)  # one class only: a same-class partner
    assert alone.shape == (3,) and ((alone >= 0) & (alone < 3)).all()

    x = torch.arange(8.0).reshape(8, 1, 1, 1).expand(8, 3, 2, 2).clone()
    xb, (yt, n) = S.MixMaxEntHook(alpha=10.0, seed=1)(x, torch.eye(10)[classes], torch.Generator().manual_seed(5))
    lam = S.sample_lambda(10.0, S.hook_rng(1))
    partner = S.different_class_partners(classes, torch.Generator().manual_seed(5))
    torch.testing.assert_close(xb[8:], lam * x + (1 - lam) * x[partner])


def test_hooks_never_read_device_tensors_on_the_host(monkeypatch):
    """The GPU engine must not sync inside a step: no ``.item()``, ``.cpu()``, ``.tolist()``, ``.numpy()`` or
    ``.nonzero()`` on a tensor in any hook, lambda_g or loss (each raises here)."""
    fits = {(a, b): (8.0, 0.5) for a in range(10) for b in range(a + 1, 10)}
    hooks = [S.MixupHook(0.2), S.MixupHook(1.0, S.tau_lambda_g(fits)), S.MixupHook(1.0, S.generic_logistic()),
             S.MixMaxEntHook(10.0)]
    losses = [S.ent_wc_loss(0.7), S.ent_wc_loss(0.7), S.ent_wc_loss(0.7), S.mix_maxent_loss()]

    def no_sync(*_a, **_k):
        raise AssertionError("host sync inside a training step")

    for name in ("item", "cpu", "tolist", "numpy", "nonzero"):
        monkeypatch.setattr(torch.Tensor, name, no_sync)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 3, 4, 4), torch.eye(10)[torch.tensor([0, 1, 2, 3, 4, 5, 6, 6])]
    for hook, loss in zip(hooks, losses):
        xb, target = hook(x, y, g)
        loss(torch.randn(len(xb), 10, requires_grad=True), target).backward()


def test_hook_lambdas_follow_the_run_seed():
    from thesis_lib.chapters.ch5 import runs as chapter5
    from thesis_lib.runs.spec import make_spec

    def lambdas(seed):
        hook, _ = chapter5.policy(make_spec(5, "mixup", None, seed, "smoke"))
        x, y = torch.ones(4, 1), torch.eye(10)[[0, 1, 2, 3]]
        g = torch.Generator().manual_seed(0)
        return [hook(x * 0 + torch.arange(4.0)[:, None], y, g)[0].sum().item() for _ in range(5)]

    assert lambdas(0) == lambdas(0) and lambdas(0) != lambdas(1)


# --------------------------------------------------------------------------------------------------------------
# Issue 14: soft endpoints keep real CIFAR-10S labels; Table C.1 changes one thing at a time
# --------------------------------------------------------------------------------------------------------------


def test_soft_endpoints_keep_the_real_cifar10s_labels():
    """Section 5.2.3 simulates labels only for the 6,000 training images without CIFAR-10S labels; the CIFAR-10S
    training images keep their aggregated T2 Clamp labels."""
    from thesis_lib import data
    from thesis_lib.chapters.ch5 import runs as chapter5
    from thesis_lib.labels import SoftLabelSimulator, aggregate, annotator_labels

    c10s = data.load_cifar10s()
    others = np.setdiff1d(data.load_uma_split().train, c10s.indices)
    train_idx = np.sort(np.concatenate([c10s.indices[:20], others[:20]]))
    y = chapter5.soft_endpoints(train_idx, seed=0, gamma=0.1)
    human = np.isin(train_idx, c10s.indices)
    real = aggregate(annotator_labels({int(i): c10s.elicitations[int(i)] for i in train_idx[human]}, "T2Clamp", 0.1))
    np.testing.assert_allclose(y[human], np.stack([real[int(i)] for i in train_idx[human]]))
    sim = SoftLabelSimulator.fit(c10s.elicitations, data.load_cifar10h_probs(), data.class_similarity(), 0.1)
    np.testing.assert_allclose(y[~human], sim.simulate(data.load_cifar10h_probs()[train_idx[~human]], seed=0))
    assert np.allclose(y.sum(1), 1)


def test_table_c1_changes_alpha_and_loss_one_at_a_time():
    from thesis_lib.chapters.ch5 import runs as chapter5

    grid = chapter5_grid.build("smoke", tables=("C.1",)).tables["C.1"]
    settings = {r.label: chapter5.settings(r.specs[0]) for r in grid}
    assert settings["mixup, Ent-WC"]["alpha"] == 0.2
    for base in ("mixup", "tau mixing", "logistic not fitted to people"):
        assert settings[f"{base}, no Ent-WC (alpha = 0.2)"]["alpha"] == settings[f"{base}, Ent-WC"]["alpha"] == 0.2
        assert settings[f"{base}, no Ent-WC"]["alpha"] == 1.0             # the thesis-comparable row stays
    chosen = chapter5_grid.build("smoke", tables=("C.1",), chosen={"ent_wc": {"alpha": 0.4}}).tables["C.1"]
    assert {chapter5.settings(r.specs[0])["alpha"] for r in chosen if "alpha = 0.4" in r.label} == {0.4}


def test_ent_wc_detached_is_a_named_alternative():
    from thesis_lib.chapters.ch5 import runs as chapter5
    from thesis_lib.runs.spec import make_spec

    logits, y = torch.tensor([[2.5, 1.0, 0.0] + [-3.0] * 7]), torch.eye(10)[[1]]   # H = 0.81: 0.7 < w < 1
    grads = {}
    for algo in ("ent_wc", "ent_wc_detached"):
        spec = make_spec(5, algo, None, 0, "smoke")
        assert chapter5.settings(spec)["kappa"] == 0.7
        _, loss = chapter5.policy(spec)
        x = logits.clone().requires_grad_()
        loss(x, y).backward()
        grads[algo] = x.grad
    w = S.ent_wc_weights(logits, 0.7)
    x = logits.clone().requires_grad_()
    (w * S.soft_cross_entropy(x, y, reduction="none")).mean().backward()
    torch.testing.assert_close(grads["ent_wc_detached"], x.grad)          # the weight as a constant
    assert not torch.allclose(grads["ent_wc"], grads["ent_wc_detached"])


def test_chapter5_release_rules_train_on_release_labels():
    """A ``rules="release"`` Chapter 5 run trains on labels built by the release rules (issue 22): its soft
    endpoints equal the release-rule labels, differ from the thesis-rule ones on at least one CIFAR-10S image, and
    the default-rules run still trains on the thesis-rule labels it always did (same data, same key)."""
    from dataclasses import replace

    from thesis_lib import data
    from thesis_lib.chapters.ch5 import runs as chapter5
    from thesis_lib.labels import aggregate, annotator_labels
    from thesis_lib.runs.spec import make_spec

    thesis = make_spec(5, "ent_wc", None, 0, "smoke", images="mirror_reconstruction", extra={"endpoints": "soft"})
    release = replace(thesis, rules="release")
    assert thesis.key != release.key
    a, b = chapter5.run_data(thesis), chapter5.run_data(release)
    np.testing.assert_array_equal(a.train_idx, b.train_idx)
    ya, yb = a.targets.fixed.numpy(), b.targets.fixed.numpy()
    c10s = data.load_cifar10s()
    human = np.isin(a.train_idx, c10s.indices)
    assert human.sum() > 50
    els = {int(i): c10s.elicitations[int(i)] for i in a.train_idx[human]}
    for rules, y in (("thesis", ya), ("release", yb)):
        agg = aggregate(annotator_labels(els, "T2Clamp", thesis.gamma, rules=rules))
        np.testing.assert_allclose(y[human], np.stack([agg[int(i)] for i in a.train_idx[human]]), atol=1e-6)
    assert (np.abs(ya[human] - yb[human]).sum(1) > 1e-6).any()        # the rule sets differ on some image
    # the simulated endpoints are built under the run's rules too, from the same draws
    np.testing.assert_allclose(ya[~human], chapter5.soft_endpoints(a.train_idx[~human], 0, thesis.gamma), atol=1e-6)
    np.testing.assert_allclose(yb[~human], chapter5.soft_endpoints(a.train_idx[~human], 0, thesis.gamma, "release"),
                               atol=1e-6)
    # the grid passes the rule set to every run, and the default keeps the default keys
    grid = chapter5_grid.build("smoke", tables=("5.2",), images="mirror_reconstruction", rules="release").tables
    assert {s.rules for row in grid["5.2"] for s in row.specs} == {"release"}
    default = chapter5_grid.build("smoke", tables=("5.2",), images="mirror_reconstruction").tables
    assert thesis.key in {s.key for row in default["5.2"] for s in row.specs}
    with pytest.raises(ValueError, match="unknown label rule set"):
        chapter5_grid.build("smoke", tables=("5.1",), images="mirror_reconstruction", rules="paper")
