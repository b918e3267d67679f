"""The training engine: run specs and their keys, the run cache, augmentation, Chapter 3 data, determinism."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields, replace

import numpy as np
import pytest
import torch

from thesis_lib.runs import cache
from thesis_lib.chapters.ch3 import runs as chapter3
from thesis_lib.core import summary
from thesis_lib.training.augment import crop_flip
from thesis_lib.cli.run import main
from thesis_lib.runs.run import run_spec
from thesis_lib.runs.spec import RunSpec, make_spec
from thesis_lib.training.loop import Targets, TrainConfig, train

TINY = dict(train_subset=400, eval_subset=200, epochs=1)


def test_identical_config_identical_key_and_every_field_changes_it():
    a = make_spec(3, "T2Clamp", "small_cnn", 0, "smoke", images="mirror_reconstruction")
    b = make_spec(3, "T2Clamp", "small_cnn", 0, "smoke", images="mirror_reconstruction")
    assert a == b and a.key == b.key
    changed = {"chapter": 4, "label_method": "T1Clamp", "model": "resnet34a", "seed": 1, "profile": "quick",
               "protocol": "mixup", "epochs": 2, "batch_size": 32, "lr": 0.2, "milestones": (1, 2),
               "momentum": 0.8, "weight_decay": 5e-4, "lr_decay": 0.2, "grad_clip": None, "augment": False,
               "gamma": 0.2, "annotators": 2, "deaggregate": True, "beta": 0.05, "n_soft": 250,
               "images": "official", "train_subset": None, "eval_subset": None, "validation": True, "fgsm_eps": 8 / 255,
               "extra": (("alpha", 0.2),), "rules": "release", "cache_version": 0}
    assert set(changed) == {f.name for f in fields(RunSpec)}, "every RunSpec field must be covered here"
    keys = {a.key}
    # the spec checks the label method against its chapter: the chapter changes on a method both 4 and 5 know
    mix = make_spec(5, "mixup", "small_cnn", 0, "smoke", images="mirror_reconstruction")
    for name, value in changed.items():
        keys.add(replace(mix if name == "chapter" else a, **{name: value}).key)
    assert len(keys) == len(changed) + 1 and replace(mix, chapter=4).key != mix.key


def test_make_spec_fills_the_thesis_protocol_and_rejects_bad_input():
    full = make_spec(3, "T2Clamp", "resnet50", 0, "full", images="official")
    assert (full.epochs, full.batch_size, full.lr, full.milestones, full.grad_clip, full.augment) == \
        (65, 32, 0.4, (50, 55), 1.0, True)
    mix = make_spec(4, "mixup", "preact_resnet18", 0, "full", images="official")
    assert (mix.epochs, mix.batch_size, mix.lr, mix.milestones, mix.augment) == (200, 128, 0.1, (100, 150), False)
    with pytest.raises(ValueError, match="unknown model"):
        make_spec(3, "T2Clamp", "resnet9000", 0, "smoke", images="official")
    with pytest.raises(ValueError, match="unknown profile"):
        make_spec(3, "T2Clamp", None, 0, "fast", images="official")
    with pytest.raises(ValueError, match="unknown RunSpec field"):
        make_spec(3, "T2Clamp", None, 0, "smoke", images="official", learning_rate=3)


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    spec = make_spec(3, "hard", None, 0, "smoke", images="official")

    def dump_then_die(obj, fh, **kw):
        fh.write('{"key": "partial')
        raise KeyboardInterrupt  # killed half-way through writing

    monkeypatch.setattr(cache.json, "dump", dump_then_die)
    with pytest.raises(KeyboardInterrupt):
        cache.save(spec, {"key": spec.key}, tmp_path)
    assert list((tmp_path / "smoke").iterdir()) == []
    monkeypatch.undo()
    metrics = {name: {"ce": 1.0, "accuracy": 0.5, "calibration": 0.1, "fgsm_loss": 2.0}
               for name in cache.expected_eval_sets(spec)}
    path = cache.save(spec, {"key": spec.key, "spec": spec.as_dict(), "metrics": metrics, "x": 1}, tmp_path)
    assert cache.load(spec, tmp_path)["x"] == 1 and path.name == f"{spec.key}.json"


def test_killed_run_leaves_no_cache_file(tmp_path):
    env = dict(os.environ, THESIS_RUNS_DIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "thesis_lib.run", "--chapter", "3", "--label-method", "hard",
                             "--profile", "smoke", "--epochs", "50"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(12)  # data loaded, training under way
    assert proc.poll() is None, "the run should still be training"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.suffix == ".claim" for p in left), left  # no record, whole or partial, no temporary file
    for claim in left:  # only its claim on the run remains, and the kernel released it with the process
        import fcntl

        with open(claim) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_same_seed_identical_metrics_and_cache_hit(tmp_path, monkeypatch):
    spec = make_spec(3, "T2Clamp", None, 0, "smoke", deaggregate=True, **TINY)
    a = run_spec(spec, device="cpu", runs_root=tmp_path)
    b = run_spec(spec, device="cpu", force=True, runs_root=tmp_path)
    assert a["metrics"] == b["metrics"] and a["curve"][0]["loss"] == b["curve"][0]["loss"]
    for record in (a, b):
        assert record["profile"] == "smoke" and record["image_provenance"]["source"] == spec.images
        assert {"torch", "numpy", "python"} <= set(record["versions"]) and record["wall_time_s"] > 0
        assert record["spec"] == spec.as_dict() and record["device"].startswith("cpu")
    monkeypatch.setattr("thesis_lib.runs.run.execute", lambda *a, **k: pytest.fail("cached spec was retrained"))
    assert run_spec(spec, runs_root=tmp_path)["metrics"] == b["metrics"]


def test_smoke_run_beats_chance(tmp_path):
    spec = make_spec(3, "hard", None, 0, "smoke", train_subset=3000, eval_subset=1000, epochs=3, milestones=(3,))
    m = run_spec(spec, device="cpu", runs_root=tmp_path)["metrics"]["cifar10h"]
    assert m["accuracy"] > 0.2, m          # chance is 0.1 (1,000 images: 0.2 is > 10 standard errors above it)
    assert m["fgsm_loss"] > m["ce"], m     # the attack raises the loss


def test_crop_flip_moves_pixels_within_the_padding():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) + 1
    out = crop_flip(x, g, pad=2)
    assert out.shape == x.shape
    for n in range(2):
        vals = set(out[n].flatten().tolist()) - {0.0}
        assert vals <= set(x[n].flatten().tolist())       # only the image's own pixels or zero padding
        assert len(vals) >= 3 * 6 * 6                      # at most 2 rows/cols lost per side
    same = crop_flip(x, torch.Generator().manual_seed(0), pad=2)
    assert torch.equal(out, same)
    flipped_or_not = crop_flip(x, torch.Generator().manual_seed(1), pad=0)
    for n in range(2):
        assert torch.equal(flipped_or_not[n], x[n]) or torch.equal(flipped_or_not[n], x[n].flip(2))


def test_pool_targets_draw_each_images_own_annotators():
    pool = np.zeros((2, 3, 10), dtype=np.float32)
    pool[0, 0, 1] = pool[0, 1, 2] = 1  # image 0: two annotators (classes 1 and 2)
    pool[1, 0, 7] = 1        # image 1: one annotator
    t = Targets(pool=pool, counts=[2, 1])
    g = torch.Generator().manual_seed(0)
    drawn = torch.stack([t.batch(torch.tensor([0, 1]), g) for _ in range(200)])
    assert set(drawn[:, 0].argmax(1).tolist()) == {1, 2} and set(drawn[:, 1].argmax(1).tolist()) == {7}


def test_chapter3_training_set_and_labels():
    spec = make_spec(3, "T2Clamp", None, 3, "quick")
    rd = chapter3.run_data(spec)
    holdout, soft = rd.eval_sets["cifar10s"]
    assert len(rd.train_idx) == 6900 and not set(holdout) & set(rd.train_idx)
    assert len(rd.eval_sets["cifar10h"][0]) == 3000 and len(holdout) == 100
    np.testing.assert_allclose(soft.sum(1), 1)
    fixed = rd.targets.fixed.numpy()
    from thesis_lib.data import load_cifar10_test, load_cifar10s
    hard = np.eye(10)[load_cifar10_test().labels[rd.train_idx]]
    changed = rd.train_idx[~np.isclose(fixed, hard).all(1)]
    assert set(changed) <= set(load_cifar10s().indices) and 800 < len(changed) <= 900  # only the soft-labelled images
    deagg = chapter3.run_data(replace(spec, deaggregate=True, annotators=2))
    assert int((deagg.targets.counts == 2).sum()) == 900 and int((deagg.targets.counts == 1).sum()) == 6000
    nsoft = chapter3.run_data(replace(spec, label_method="cifar10h", n_soft=250))
    assert len(nsoft.train_idx) == 250
    ls = chapter3.run_data(replace(spec, label_method="label_smoothing", beta=0.1)).targets.fixed.numpy()
    assert np.isclose(ls.max(1), 0.91).sum() == 900
    with pytest.raises(ValueError, match="unknown label method"):
        chapter3.run_data(replace(spec, label_method="T3Clamp"))
    with pytest.raises(ValueError, match="deaggregate"):
        chapter3.run_data(replace(spec, label_method="uniform", deaggregate=True))


def test_cli_reports_bad_input(capsys):
    assert main(["--label-method", "T3Clamp"]) == 2
    assert "unknown label method" in capsys.readouterr().err
    assert main(["--label-method", "T2Clamp", "--rules", "authors"]) == 2
    assert "RunSpec rules='authors' is invalid: unknown label rule set" in capsys.readouterr().err
    assert main(["--chapter", "4", "--label-method", "agg", "--rules", "release"]) == 2   # Chapter 4: no rule set
    assert "Chapter 4's labels are not built from elicitations" in capsys.readouterr().err


def test_the_spec_checks_the_label_method_and_rules_once_without_moving_a_key():
    """RunSpec.check_spec is the one check of the label method (against its chapter) and of ``rules``; a valid
    spec's key is what it was (tests/test_architecture.py pins three)."""
    spec = make_spec(3, "T2Clamp", "small_cnn", 0, "smoke", images="mirror_reconstruction")
    assert spec.key == "0bbd4c4d543670fadaf0"
    assert replace(spec, rules="release").key != spec.key
    with pytest.raises(ValueError, match="unknown label rule set"):
        replace(spec, rules="Release")
    with pytest.raises(ValueError, match="unknown label method 'T3Clamp'"):
        replace(spec, label_method="T3Clamp")
    with pytest.raises(ValueError, match="unknown Chapter 5 algorithm 'T2Clamp'"):
        make_spec(5, "T2Clamp", None, 0, "smoke", images="official")
    with pytest.raises(ValueError, match="Chapter 4's labels are not built from elicitations"):
        make_spec(4, "agg", None, 0, "smoke", images="official", rules="release")
    assert make_spec(5, "mixup", None, 0, "smoke", images="official", rules="release").rules == "release"


def test_mean_ci_t_interval():
    mean, half = summary.mean_ci([1.0, 2.0, 3.0])
    # t_{0.975, 2} = 4.302653, sample sd = 1  ->  half-width 4.302653 / sqrt(3)
    assert mean == 2.0 and half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(summary.mean_ci([5.0])[1])
    assert summary.format_ci(2.0, half) == "2.000 ± 2.484"


def test_mixup_hooks_and_augmenting_set():
    from thesis_lib.models import get_model
    from thesis_lib.training.loop import TrainConfig, train

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    mixed = 0.3 * base[:8].astype(np.float32) + 0.7 * base[8:16]          # a finite augmenting set
    targets = Targets(fixed=np.eye(10)[rng.integers(0, 10, 40)])
    pool = np.zeros((8, 2, 10), dtype=np.float32)
    pool[:, 0, 1] = pool[:, 1, 2] = 1                                      # two annotators per synthetic image
    both = targets.concat(Targets(pool=pool, counts=np.full(8, 2)))
    assert len(both) == 48 and both.pool.shape == (48, 2, 10) and both.counts.tolist() == [1] * 40 + [2] * 8
    calls = {"hook": 0, "loss": 0}

    def hook(x, y, g):  # per-batch mixing with a label policy
        calls["hook"] += 1
        lam = 0.5
        perm = torch.randperm(len(x), generator=g, device=x.device)
        return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]

    def loss(logits, y):
        calls["loss"] += 1
        return -(y * logits.log_softmax(1)).sum(1).mean()

    torch.manual_seed(0)
    images = np.concatenate([base.astype(np.float32), mixed])
    curve = train(get_model("small_cnn"), images, both, TrainConfig(epochs=2, batch_size=16, lr=0.01), seed=0,
                  device="cpu", batch_hook=hook, loss_fn=loss)
    assert len(curve) == 2 and calls["hook"] == calls["loss"] == 6 and all(np.isfinite(c["loss"]) for c in curve)
    with pytest.raises(ValueError, match="0-255"):
        train(get_model("small_cnn"), images / 255 - 1, both, TrainConfig(epochs=1, batch_size=16, lr=0.01),
              seed=0, device="cpu")


def test_compiled_training_matches_eager_and_bad_modes_fail():
    """torch.compile (opt-in) trains the same model to finite, near-identical losses; an unknown mode is refused."""
    from torch import nn

    from thesis_lib.training.loop import check_compile

    def tiny():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (96, 32, 32, 3), dtype=np.uint8)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 96)]
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05)
    eager = train(tiny(), x, Targets(fixed=y), cfg, seed=0, device="cpu")
    compiled = train(tiny(), x, Targets(fixed=y), cfg, seed=0, device="cpu", compile="default")
    assert [c["loss"] for c in compiled] == pytest.approx([c["loss"] for c in eager], rel=1e-3)
    assert check_compile(None) == "off"
    with pytest.raises(ValueError, match="unknown compile mode"):
        train(tiny(), x, Targets(fixed=y), cfg, seed=0, device="cpu", compile="fastest")
