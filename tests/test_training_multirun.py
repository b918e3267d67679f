"""The multi-run engine (thesis_lib.training.multirun): K runs stacked in one process train exactly as K single runs.

Proof in two parts. (1) In float64 the stacked and single loops give the same weights to ~1e-9 after whole epochs
with augmentation, de-aggregated annotator draws, clipping, a learning-rate drop and a mixing policy: every
per-run ingredient (initialisation, data stream, loss, clipping, schedule, BatchNorm statistics) is the single
run's. The only difference left is arithmetic: a stacked convolution is one grouped convolution, whose float32
reduction order differs. (2) At the smoke profile in float32 the cached metrics of both engines agree within a
tolerance that covers that rounding drift (the first epoch's loss to 1e-4; final metrics to 0.02 in CE)."""

import math
import time

import numpy as np
import pytest
import torch

from thesis_lib.chapters import grids
from thesis_lib.runs import cache
from thesis_lib.training import metrics
from thesis_lib.training import multirun
from thesis_lib.models import get_model
from thesis_lib.runs.run import run_grid, run_group
from thesis_lib.runs.spec import make_spec
from thesis_lib.training.loop import Targets, TrainConfig, train

N = 96


def _data(seed, pool=False):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(N, 32, 32, 3), dtype=np.uint8)
    if pool:
        p = rng.dirichlet(np.ones(10), size=(N, 3))
        counts = rng.integers(1, 4, size=N)
        return images, Targets(pool=p, counts=counts)
    return images, Targets(fixed=np.eye(10)[rng.integers(0, 10, size=N)])


def _model(seed):
    torch.manual_seed(seed)
    return get_model("small_cnn").double()


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


CFG = TrainConfig(epochs=3, batch_size=20, lr=0.05, milestones=(2,), grad_clip=0.5, augment=True)


def _mixup_hook(seed):
    """A per-batch policy drawing from the run's generator (as Chapter 5's hooks do)."""
    def hook(x, y, gen):
        lam = torch.rand((), generator=gen, device=x.device).to(x.dtype)
        perm = torch.randperm(len(x), generator=gen, device=x.device)
        return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]
    return hook


@pytest.mark.parametrize("pool,hooked", [(False, False), (True, False), (False, True)])
def test_stacked_equals_single_runs_in_float64(float64, pool, hooked):
    seeds = [0, 1, 2]
    data = [_data(s, pool) for s in seeds]
    singles = []
    for s, (im, t) in zip(seeds, data):
        m = _model(s)
        curve = train(m, im, t, CFG, seed=s, device="cpu", batch_hook=_mixup_hook(s) if hooked else None)
        singles.append((m, curve))
    stacked = [_model(s) for s in seeds]
    curves = multirun.train_stacked(stacked, [d[0] for d in data], [d[1] for d in data], CFG, seeds=seeds,
                                    device="cpu", batch_hooks=[_mixup_hook(s) for s in seeds] if hooked else None)
    for (single, curve), m, c in zip(singles, stacked, curves):
        assert [e["loss"] for e in c] == pytest.approx([e["loss"] for e in curve], abs=1e-9)
        assert [e["lr"] for e in c] == [e["lr"] for e in curve]
        for (name, a), b in zip(single.state_dict().items(), m.state_dict().values()):
            assert torch.allclose(a.double(), b.double(), atol=1e-8, rtol=1e-8), name
        # and what is evaluated: eval-mode outputs (BatchNorm's running statistics handed back) and their metrics
        probe, soft = _data(99)[0], torch.eye(10, dtype=torch.float64)[torch.arange(N) % 10]
        x = torch.as_tensor(probe).permute(0, 3, 1, 2).double() / 255
        with torch.no_grad():
            la, lb = single.eval()(x), m.eval()(x)
        assert torch.allclose(la, lb, atol=1e-8, rtol=1e-8)
        ma = metrics.metrics_from_outputs(torch.log_softmax(la, 1).numpy(), soft.numpy())
        mb = metrics.metrics_from_outputs(torch.log_softmax(lb, 1).numpy(), soft.numpy())
        assert mb["ce"] == pytest.approx(ma["ce"], abs=1e-10) and mb["accuracy"] == ma["accuracy"]
        assert mb["calibration"] == pytest.approx(ma["calibration"], abs=1e-10)
    # and the runs really differ from each other (the test could not pass by training one model K times)
    assert not torch.allclose(stacked[0].net.linear.weight, stacked[1].net.linear.weight)


def test_stacked_equals_single_with_a_hook_that_grows_the_batch_and_its_own_loss(float64):
    """Mix-MaxEnt's hook appends the mixed copy (2B images) and hands its loss a (targets, count) pair: the stacked
    step must train each run exactly as the single loop does (the first smoke run of it crashed the stacked step)."""
    from thesis_lib.training import soft_mixup as S

    seeds, cfg = [0, 1], TrainConfig(epochs=2, batch_size=20, lr=0.05, milestones=(1,), grad_clip=0.5, augment=True)
    data = [_data(s) for s in seeds]
    singles = [_model(s) for s in seeds]
    for s, m, (im, t) in zip(seeds, singles, data):
        train(m, im, t, cfg, seed=s, device="cpu", batch_hook=S.MixMaxEntHook(10.0, seed=s),
              loss_fn=S.mix_maxent_loss(1.0))
    stacked = [_model(s) for s in seeds]
    multirun.train_stacked(stacked, [d[0] for d in data], [d[1] for d in data], cfg, seeds=seeds, device="cpu",
                           batch_hooks=[S.MixMaxEntHook(10.0, seed=s) for s in seeds],
                           loss_fns=[S.mix_maxent_loss(1.0) for _ in seeds])
    for single, m in zip(singles, stacked):
        for (name, a), b in zip(single.state_dict().items(), m.state_dict().values()):
            assert torch.allclose(a.double(), b.double(), atol=1e-8, rtol=1e-8), name


def test_stacked_batchnorm_never_sees_bf16_beside_float32_statistics(monkeypatch):
    """The bf16 crash of stacked PreAct ResNets on an H100 ("Expected running_mean to have type BFloat16 but got
    Float" in backward): a bias-free convolution under bf16 autocast hands BatchNorm a bf16 input, and vmap's
    BatchNorm rule then mixes dtypes. A CPU does not crash (and its autocast does not cast under vmap), so check the
    cause: under bf16 autocast the plain model's BatchNorm gets bf16 (the hazard), while every BatchNorm of the
    stacked architecture, called for one model's slice of the stacked weights, gets float32 (the fix); the vmapped
    forward and backward then run."""
    import torch.nn.functional as F

    seen = []
    real = F.batch_norm

    def spy(inp, *a, **k):
        seen.append(inp.dtype)
        return real(inp, *a, **k)

    monkeypatch.setattr(F, "batch_norm", spy)
    models = [get_model("preact_resnet18") for _ in range(2)]
    x = torch.rand(2, 4, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        models[0](x[0])
    assert torch.bfloat16 in seen                                # the hazard exists without the fix
    seen.clear()
    forward, params, buffers = multirun.stacked_forward(models)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        forward.one({k: v[0] for k, v in params.items()}, {k: v[0] for k, v in buffers.items()}, x[0])
    assert len(seen) > 10 and set(seen) == {torch.float32}, set(seen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = forward(params, buffers, x)
    logits.float().sum().backward()                              # and the stacked backward runs


def test_clipping_is_per_run():
    g1 = torch.tensor([[3.0, 4.0], [0.3, 0.4]])           # run 0 norm 5 (clipped to 1), run 1 norm 0.5 (kept)
    g2 = torch.zeros(2, 3)
    multirun._clip_per_run([g1, g2], 1.0, 2)
    assert torch.linalg.vector_norm(g1[0]) == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(g1[1], torch.tensor([0.3, 0.4]))


def test_groups_keep_unstackable_specs_apart():
    a = [make_spec(3, "hard", "small_cnn", s, "smoke", images="official") for s in range(5)]
    b = [make_spec(3, "hard", "small_cnn", s, "smoke", images="official", epochs=2) for s in range(2)]
    c = [make_spec(5, "mix_maxent", "small_cnn", 0, "smoke", images="official"),
         make_spec(5, "mixup", "small_cnn", 0, "smoke", images="official")]
    out = multirun.groups(a + b + c, max_size=3)
    assert [len(g) for g in out] == [3, 2, 2, 1, 1]
    assert all(len({multirun.group_key(s) for s in g}) == 1 for g in out)


def test_deadline_abandons_a_stack_that_cannot_finish():
    im, t = _data(0)
    with pytest.raises(multirun.DeadlineExceeded):
        multirun.train_stacked([get_model("small_cnn")], [im], [t], TrainConfig(epochs=50, batch_size=16, lr=0.01),
                               seeds=[0], device="cpu", deadline=time.monotonic() + 0.01)


TINY = dict(train_subset=300, eval_subset=200, epochs=2)


def test_multi_engine_matches_single_at_smoke_and_keeps_outputs(tmp_path):
    specs = [make_spec(3, "T2Clamp", None, s, "smoke", deaggregate=True, **TINY) for s in (0, 1)]
    single = run_grid(specs, device="cpu", progress=False, runs_root=tmp_path / "single")
    multi = run_grid(specs, device="cpu", progress=False, runs_root=tmp_path / "multi", engine="multi")
    for a, b in zip(single, multi):
        assert a["key"] == b["key"] and a["engine"] == "single" and b["engine"] == "multi (2 stacked)"
        assert b["device_share"] == 0.5
        assert b["curve"][0]["loss"] == pytest.approx(a["curve"][0]["loss"], abs=1e-4)
        for name in ("cifar10h", "cifar10s"):
            assert b["metrics"][name]["ce"] == pytest.approx(a["metrics"][name]["ce"], abs=0.02)
            assert b["metrics"][name]["fgsm_loss"] == pytest.approx(a["metrics"][name]["fgsm_loss"], abs=0.02)
    # every record keeps its evaluation outputs, and the metrics are recomputed from them without the model
    for root, records in ((tmp_path / "single", single), (tmp_path / "multi", multi)):
        for spec, rec in zip(specs, records):
            out = cache.load_outputs(spec, root=root)
            assert out is not None and rec["outputs_file"] == f"{spec.key}.npz"
            from thesis_lib.chapters.ch3.runs import run_data

            for name, (idx, soft) in run_data(spec).eval_sets.items():
                kept = out[name]
                assert np.array_equal(kept["idx"], idx) and kept["log_probs"].dtype == np.float16
                again = metrics.metrics_from_outputs(kept["log_probs"], soft, kept["fgsm_log_probs"])
                # float16 keeps ~3 significant digits: CE and FGSM loss to 5e-3; accuracy and calibration can
                # move only where float16 rounding ties two classes (at most one example here)
                for m in ("ce", "fgsm_loss"):
                    assert again[m] == pytest.approx(rec["metrics"][name][m], abs=5e-3), (name, m)
                assert abs(again["accuracy"] - rec["metrics"][name]["accuracy"]) <= 1 / len(idx) + 1e-12
                assert again["n"] == rec["metrics"][name]["n"]


def test_outputs_recompute_metrics_exactly_in_float32():
    rng = np.random.default_rng(0)
    logits = torch.as_tensor(rng.normal(size=(300, 10)) * 3, dtype=torch.float32)
    soft = torch.as_tensor(rng.dirichlet(np.ones(10), size=300), dtype=torch.float32)
    model = torch.nn.Identity()
    # a model that returns its input: evaluate() on "images" that are the logits themselves is not possible (pixel
    # checks), so check the pure function against the metric definitions directly
    lp = torch.log_softmax(logits, 1)
    m = metrics.metrics_from_outputs(lp.numpy(), soft.numpy())
    assert m["ce"] == pytest.approx(metrics.soft_cross_entropy(logits, soft).item(), rel=1e-6)
    correct = logits.argmax(1) == soft.argmax(1)
    assert m["accuracy"] == pytest.approx(correct.double().mean().item())
    assert m["calibration"] == pytest.approx(metrics.rms_calibration_error(lp.exp().max(1).values, correct, bin_size=10),
                                             rel=1e-6)  # 300 examples: bins of 10, as evaluate() picks
    assert m["calibration_bin_size"] == 10
    assert math.isnan(m["fgsm_loss"]) and model is not None


def test_chapter5_specs_stack(tmp_path):
    specs = [make_spec(5, algo, None, s, "smoke", train_subset=256, eval_subset=100, epochs=1)
             for algo in ("ent_wc", "mix_maxent") for s in (0, 1)]
    recs = run_group(specs, device="cpu", runs_root=tmp_path)
    assert [r["engine"] for r in recs] == ["multi (2 stacked)"] * 4
    assert all(np.isfinite(r["metrics"]["cifar10h"]["corruption_ce"]) for r in recs)
    assert recs[0]["metrics"]["cifar10h"]["ce"] != recs[1]["metrics"]["cifar10h"]["ce"]


def test_grid_command_line_picks_the_engine(tmp_path, monkeypatch, capsys):
    from thesis_lib.cli import grid

    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    assert grid.main(["--chapter", "3", "--tables", "3.1", "--profile", "smoke", "--engine", "multi",
                      "--device", "cpu"]) == 0
    specs = grids.build(3, "smoke", tables=("3.1",), figures=()).specs()
    records = [cache.load(s, tmp_path) for s in specs]
    assert len(records) == 5 and all(r is not None and r["engine"] == "multi (5 stacked)" for r in records)
    assert "| 3.1 | 5 | 5 |" in capsys.readouterr().out
    assert grid.main(["--chapter", "5", "--profile", "smoke", "--engine", "multi", "--group-size", "0"]) == 2
