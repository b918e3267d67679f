"""Tables beside the thesis, the Chapter 3 grid and the validation chooser, on hand-made records."""

import math

import numpy as np
import pandas as pd
import pytest

from thesis_lib.core.catalogue import HYP
from thesis_lib.chapters.ch3 import grid as chapter3_grid
from thesis_lib.reporting import tables
from thesis_lib.runs.spec import make_spec
from thesis_lib.runs.grid import Row


def _record(spec, ce, cal=0.2, fgsm=9.0, profile="smoke"):
    m = {"ce": ce, "calibration": cal, "fgsm_loss": fgsm, "accuracy": 0.5, "n": 100.0}
    return {"key": spec.key, "profile": profile, "spec": spec.as_dict(), "metrics": {"cifar10h": m, "cifar10s": m},
            "image_provenance": {"source": spec.images}, "device": "cpu", "wall_time_s": 36.0}


def test_summarise_puts_our_interval_beside_the_thesis():
    specs = tuple(make_spec(3, "T2Clamp", "small_cnn", s, "smoke", images="official", deaggregate=True)
                  for s in range(3))
    ces = [1.2, 1.3, 1.4]  # mean 1.3, sd 0.1 -> half-width t(0.975, 2) * 0.1 / sqrt(3) = 0.2484
    records = {s.key: _record(s, ce) for s, ce in zip(specs, ces)}
    frame = tables.summarise("3.2", [Row("Ours (T2, Clamp)", specs)], records)
    ce = frame[(frame.group == "CIFAR-10H") & (frame.metric == "CE")].iloc[0]
    assert ce.ours == pytest.approx(1.3) and ce.ours_ci == pytest.approx(0.2484, abs=1e-4) and ce.n == 3
    assert ce.thesis == 1.281 and ce.thesis_ci == 0.06 and ce.difference == pytest.approx(0.019)
    assert ce.thesis_in_ci is True                       # |1.281 - 1.3| <= 0.248
    fgsm = frame[(frame.group == "CIFAR-10H") & (frame.metric == "FGSM Loss")].iloc[0]
    assert fgsm.thesis == 8.406 and fgsm.thesis_in_ci is False   # 9.0 with zero spread misses 8.406
    # hand-made records keep no outputs: the authors' calibration ("Calibration") cannot be recomputed, so only the
    # stored all-bins value is shown (tests/test_calibration_authors.py covers records with outputs)
    assert set(frame.metric) == {"CE", "Calibration, all bins", "FGSM Loss", "Accuracy"}
    acc = frame[frame.metric == "Accuracy"].iloc[0]
    assert math.isnan(acc.thesis) and acc.thesis_in_ci is None


def test_single_seed_has_no_interval_and_writes_csv_and_markdown(tmp_path):
    spec = make_spec(3, "hard", "small_cnn", 0, "smoke", images="mirror_reconstruction")
    records = {spec.key: _record(spec, 2.0)}
    frame = tables.summarise("3.1", [Row("Hard Labels", (spec,))], records)
    assert frame.ours_ci.isna().all() and frame.thesis_in_ci.isna().all()
    path = tables.write("3.1", frame, list(records.values()), tmp_path)
    csv = pd.read_csv(path)
    assert set(csv.profile) == {"smoke"} and set(csv.images) == {"mirror_reconstruction"}
    md = (tmp_path / "table_3_1.md").read_text()
    assert "Profile: **smoke**" in md and "mirror_reconstruction" in md and "| Hard Labels | 2.000 † / 2.026 |" in md
    assert "Ran: small CNN, 1 epoch, 1 seed; thesis: ResNet-34A/ResNet-50/VGG-11, 65 epochs, 5 seeds" in md


def test_chapter3_grid_shapes_and_sharing():
    full = chapter3_grid.build("full", images="official")
    assert {s.model for r in full.tables["3.1"] for s in r.specs} == {"resnet34a", "resnet50", "vgg11"}
    assert all(len(r.specs) == 15 for r in full.tables["3.1"])            # 3 models x 5 seeds
    assert {s.model for r in full.tables["3.3"] for s in r.specs} == {"resnet34a"}
    assert all(len(p.specs) == 10 for p in full.figures["3.6"])             # Fig. 3.6: 10 seeds
    assert [r.specs for r in full.tables["B.1"][1:]] == [r.specs for r in full.tables["3.2"]]  # shared runs
    resnet50 = [s for r in full.tables["3.1"] for s in r.specs if s.model == "resnet50"]
    assert {s.lr for s in resnet50} == {0.4} and {s.epochs for s in resnet50} == {65}
    quick = chapter3_grid.build("quick", images="official")
    assert {s.model for s in quick.specs()} == {"small_cnn"} and len(quick.specs()) < 40
    lr = chapter3_grid.build("quick", images="official", lrs={"small_cnn": 0.2}).specs()
    assert {s.lr for s in lr} == {0.2}
    with pytest.raises(ValueError, match="unknown table"):
        chapter3_grid.build("quick", images="official", tables=["3.9"])


def test_validation_choice_takes_the_lowest_mean_ce():
    grid = chapter3_grid.tuning_grid("smoke", images="official", which=("gamma",))
    assert set(grid["gamma"]) == set(chapter3_grid.GAMMAS)
    assert all(s.validation for ss in grid["gamma"].values() for s in ss)
    ces = {g: 2.0 - abs(g - 0.2) * -1 for g in chapter3_grid.GAMMAS}  # minimum at gamma = 0.2 -> CE 2.0
    records = {}
    for g, ss in grid["gamma"].items():
        for s in ss:
            r = _record(s, ces[g])
            r["metrics"] = {"validation": {"ce": ces[g]}}
            records[s.key] = r
    best, table = chapter3_grid.choose(grid["gamma"], records)
    assert best == 0.2 and len(table) == len(chapter3_grid.GAMMAS)
    assert np.isclose(table["validation CE"].min(), 2.0)


def test_validation_runs_never_see_the_test_images():
    from thesis_lib import data
    from thesis_lib.chapters.ch3 import runs as chapter3

    spec = make_spec(3, "T2Clamp", None, 0, "quick", validation=True)
    rd = chapter3.run_data(spec)
    (val_idx, val_labels), = rd.eval_sets.values()
    split = data.load_uma_split()
    assert len(val_idx) == HYP["validation_size"] and set(val_idx) <= set(split.train)
    assert not set(val_idx) & set(rd.train_idx) and len(rd.train_idx) == 6900 - 500
    assert not set(val_idx) & set(data.load_cifar10s().indices)


def test_tuning_trains_every_candidate_and_chooses(tmp_path, monkeypatch):
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    chosen, scores = chapter3_grid.run_tuning("smoke", images=None, device="cpu", which=("gamma",))
    table = scores["gamma"]
    assert chosen["gamma"] in chapter3_grid.GAMMAS and len(table) == len(chapter3_grid.GAMMAS)
    assert table.loc[table["validation CE"].idxmin(), "candidate"] == chosen["gamma"]
    assert len(list((tmp_path / "smoke").glob("*.json"))) == len(chapter3_grid.GAMMAS)


def test_cifar10s_runs_use_six_annotators_where_the_thesis_says_m_6():
    """Tables 3.1, 3.2, 3.4, B.1-B.3 and Fig. 3.6 train on M = 6 of our annotators per image (the spec, hence the
    run record, says so); Table 3.3 and Fig. 3.5 keep their own M, CIFAR-10H its ~51 votes."""
    from thesis_lib.labels import VARIETIES

    grid = chapter3_grid.build("full", images="official")
    for tid in ("3.1", "3.2", "3.4", "B.1", "B.2", "B.3"):
        for row in grid.tables[tid]:
            for s in row.specs:
                assert s.annotators == (6 if s.label_method in VARIETIES else None), (tid, row.label)
    assert {s.annotators for p in grid.figures["3.6"] for s in p.specs if s.label_method == "T2Clamp"} == {6}
    assert {s.annotators for r in grid.tables["3.3"] for s in r.specs} == {1, 2}
    assert {p.m for p in grid.figures["3.5"] if p.series == "T2Clamp"} == {1, 2, 3, 4, 5, 6}
    assert {s.annotators for ss in chapter3_grid.tuning_grid("smoke", images="official", which=("gamma",))["gamma"]
            .values() for s in ss} == {6}
    # Table 3.2's T2 Clamp run of the main model is Table 3.4's T2 Clamp row: one run
    quick = chapter3_grid.build("quick", images="official")
    assert quick.tables["3.2"][1].specs == quick.tables["3.4"][-1].specs


def test_cifar10s_evaluation_label_averages_six_annotators():
    """The 100 held-out CIFAR-10S images are scored against T2 Clamp averaged over 6 annotators per image drawn
    with the run's seed, as the thesis's evaluation code does (``num_annotators_sample = 6``)."""
    from thesis_lib import data
    from thesis_lib.chapters.ch3 import runs as chapter3
    from thesis_lib.labels import aggregate, annotator_labels, subsample_annotators

    spec = make_spec(3, "hard", None, 0, "smoke")
    idx, labels = chapter3.run_data(spec).eval_sets["cifar10s"]
    c10s = data.load_cifar10s()
    per = annotator_labels({int(i): c10s.elicitations[int(i)] for i in idx}, "T2Clamp", 0.1)
    six = aggregate(subsample_annotators(per, 6, spec.seed))
    every = aggregate(per)
    np.testing.assert_allclose(labels, np.stack([six[int(i)] for i in idx]))
    many = [k for k, i in enumerate(idx) if len(per[int(i)]) > 6]
    assert many and not np.allclose(labels[many], np.stack([every[int(idx[k])] for k in many]))


def test_chapter3_schedule_follows_the_thesis_text_50_5_10():
    """A documented choice (profiles.py): the rate drops after epochs 50 and 55 as the thesis says (the authors'
    loop trained 51 / 5 / 9 epochs at the three rates)."""
    import torch

    from thesis_lib.models import get_model
    from thesis_lib.training.loop import Targets, TrainConfig, train

    spec = make_spec(3, "hard", "resnet34a", 0, "full", images="official")
    cfg = TrainConfig(epochs=spec.epochs, batch_size=4, lr=spec.lr, milestones=spec.milestones,
                      lr_decay=spec.lr_decay)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    curve = train(get_model("small_cnn"), rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
                  Targets(fixed=np.eye(10)[[0, 1, 2, 3]]), cfg, seed=0, device="cpu")
    lrs = [round(c["lr"], 6) for c in curve]
    assert [lrs.count(v) for v in (0.1, 0.01, 0.001)] == [50, 5, 10]


def test_notebook_cells_read_a_dash_not_nan_where_a_value_is_missing():
    from thesis_lib.reporting import tables

    assert tables.show_cell(1.23456, 1.281) == "1.235 / 1.281"
    assert tables.show_cell(1.23456, float("nan")) == "1.235 / –"       # a row the thesis does not have
    assert tables.show_cell(float("nan"), None) == "– / –"
