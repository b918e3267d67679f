"""Chapter 4 training: augmenting-set label policies, run data and the Tables 4.1-4.3 grid."""

import numpy as np
import pytest

from thesis_lib.chapters.ch4 import grid as chapter4_grid
from thesis_lib import data
from thesis_lib.chapters.ch4 import runs as chapter4
from thesis_lib.labels.mixup import confidence_smoothing, two_hot
from thesis_lib.runs.run import run_spec
from thesis_lib.runs.spec import make_spec


def test_two_hot_and_confidence_smoothing_by_hand():
    np.testing.assert_allclose(two_hot(0.25, 3, 5)[0], np.eye(10)[3] * 0.25 + np.eye(10)[5] * 0.75)
    np.testing.assert_allclose(two_hot([1.0, 0.5], [0, 1], [2, 1])[1], np.eye(10)[1])  # same class twice
    lab = two_hot(0.7, 0, 1)
    np.testing.assert_allclose(confidence_smoothing(lab, [0.0]), np.full((1, 10), 0.1))   # no confidence: uniform
    full = confidence_smoothing(lab, [1.0], gamma=0.005)                                   # s = 0.005
    np.testing.assert_allclose(full, 0.995 * lab + 0.0005)
    half = confidence_smoothing(lab, [0.5], gamma=0.25)                                    # s = 0.5
    np.testing.assert_allclose(half, 0.5 * lab + 0.05)
    with pytest.raises(ValueError):
        confidence_smoothing(lab, [1.5])


def test_augmenting_labels_follow_the_human_inferences():
    stimuli = data.load_first_collection()
    inf = data.load_hmix_inferences()
    mix = chapter4.augmenting_labels("mixup", 0)
    agg = chapter4.augmenting_labels("agg", 0)
    sep = chapter4.augmenting_labels("sep", 0)
    i, s = 0, stimuli[0]
    g = inf[inf.stimulus == s.name]
    assert mix[i, s.class_a] == pytest.approx(s.lambda_f)
    assert agg[i, s.class_a] == pytest.approx(g.lambda_h.mean())
    assert sep[i].shape == (len(g), 10) and np.allclose(np.sort(sep[i][:, s.class_a]), np.sort(g.lambda_h))
    conf = chapter4.augmenting_labels("sep_conf", 0)
    assert (conf[i].min(1) > 0).all()  # smoothing puts some mass on every class
    for labels in (mix, agg, chapter4.augmenting_labels("random", 0), chapter4.augmenting_labels("uniform", 0)):
        np.testing.assert_allclose(labels.sum(1), 1)
    with pytest.raises(ValueError, match="unknown Chapter 4 label method"):
        chapter4.check_label_method("lambda")


def test_run_data_appends_the_810_mixed_images():
    rd = chapter4.run_data(make_spec(4, "sep", None, 0, "quick"))
    assert len(rd.targets) == 7000 + 810 and rd.images.shape == (7810, 32, 32, 3)
    assert int((rd.targets.counts >= 2).sum()) == 810       # every stimulus has at least two annotators
    assert len(rd.eval_sets["cifar10h"][0]) == 3000
    none = chapter4.run_data(make_spec(4, "no_aug", None, 0, "quick"))
    assert len(none.targets) == 7000 and none.images.shape == (7000, 32, 32, 3)


def test_grid_and_a_smoke_run(tmp_path):
    grid = chapter4_grid.build("full", images="official").tables
    assert {s.model for rows in grid.values() for r in rows for s in r.specs} == {"preact_resnet18"}
    spec = grid["4.3"][-1].specs[0]
    assert (spec.epochs, spec.batch_size, spec.milestones, spec.augment) == (200, 128, (100, 150), False)
    assert dict(spec.extra)["confidence_gamma"] == 0.005
    assert grid["4.1"][3].specs == grid["4.2"][0].specs   # the mixup row is one set of runs
    smoke = make_spec(4, "sep_conf", None, 0, "smoke", extra={"confidence_gamma": 0.005})
    rec = run_spec(smoke, device="cpu", runs_root=tmp_path)
    assert set(rec["metrics"]) == {"cifar10h"} and rec["n_train"] == 1000 + 810
