"""The calibration error both ways (issue 22, part 2): the authors' statistic (their adaptive bins, last bin
dropped, as the thesis's cells were computed) beside the correct all-bins one, recomputed from kept outputs,
and set beside the thesis in the tables and the report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from thesis_lib.runs.grid import Row
from thesis_lib.reporting import recompute, render, tables
from thesis_lib.reporting.provenance_sensitivity import batched_calibration
from thesis_lib.runs import cache
from thesis_lib.runs.spec import make_spec
from thesis_lib.training.metrics import (metrics_from_outputs, rms_calibration_error,
                                         rms_calibration_error_authors)

# ------------------------------------------------------------------------------------------------------------------
# Hand-worked examples
# ------------------------------------------------------------------------------------------------------------------

# bins of 2, sorted by confidence: [0.2, 0.4] acc 1/2, [0.6, 0.8] acc 1, [0.9, 1.0] acc 1/2
CONF = [0.9, 0.2, 1.0, 0.6, 0.4, 0.8]
CORRECT = [0, 0, 1, 1, 1, 1]


def test_the_two_statistics_differ_by_the_most_confident_bin():
    # gaps: 0.3 - 0.5 = -0.2, 0.7 - 1.0 = -0.3, 0.95 - 0.5 = 0.45; each bin weighs 2/6
    first_two = (2 / 6) * 0.04 + (2 / 6) * 0.09
    last = (2 / 6) * 0.2025
    assert rms_calibration_error(CONF, CORRECT, bin_size=2) == pytest.approx(math.sqrt(first_two + last), abs=1e-12)
    assert rms_calibration_error_authors(CONF, CORRECT, bin_size=2) == pytest.approx(math.sqrt(first_two), abs=1e-12)
    assert math.sqrt(first_two) == pytest.approx(0.208167, abs=1e-6)       # 0.333 all bins against 0.208


def test_the_remainder_goes_to_the_dropped_last_bin_and_the_weights_stay_over_all_examples():
    conf, correct = CONF + [0.95], CORRECT + [1]                          # N = 7: bins of 2, 2 and 3
    kept = (2 / 7) * 0.04 + (2 / 7) * 0.09                                # not renormalised to the 4 kept examples
    last = (3 / 7) * ((0.9 + 0.95 + 1.0) / 3 - 2 / 3) ** 2
    assert rms_calibration_error_authors(conf, correct, bin_size=2) == pytest.approx(math.sqrt(kept), abs=1e-12)
    assert rms_calibration_error(conf, correct, bin_size=2) == pytest.approx(math.sqrt(kept + last), abs=1e-12)


def test_the_two_agree_when_the_last_bin_is_perfectly_calibrated():
    conf = [0.2, 0.4, 0.6, 0.8, 1.0, 1.0]                                 # last bin: confidence 1, accuracy 1
    correct = [0, 1, 1, 1, 1, 1]
    authors = rms_calibration_error_authors(conf, correct, bin_size=2)
    assert authors == pytest.approx(rms_calibration_error(conf, correct, bin_size=2), abs=1e-12)
    assert authors == pytest.approx(math.sqrt((2 / 6) * 0.04 + (2 / 6) * 0.09), abs=1e-12)


def test_one_bin_leaves_the_authors_statistic_nothing_to_sum():
    conf, correct = [0.9, 0.8, 0.7], [0, 0, 1]
    assert rms_calibration_error_authors(conf, correct, bin_size=2) == 0.0      # N < 2 * bin_size: one bin
    assert rms_calibration_error_authors(conf, correct, bin_size=10) == 0.0     # N < bin_size (theirs raises)
    assert rms_calibration_error(conf, correct, bin_size=2) == pytest.approx(0.8 - 1 / 3, abs=1e-12)


def _authors_by_definition(conf, correct, beta):
    """The authors' statistic as the issue describes it: N // beta equal-count bins of the sorted confidences (at
    least one; the last with the remainder), every bin but the most confident one summed with weight |b| / N."""
    order = np.argsort(conf, kind="stable")
    conf, correct = np.asarray(conf)[order], np.asarray(correct, dtype=float)[order]
    n = len(conf)
    n_bins = max(1, n // beta)
    total = 0.0
    for k in range(n_bins - 1):                       # the last bin, k = n_bins - 1, is the one left out
        lo, hi = k * beta, (k + 1) * beta
        total += (hi - lo) / n * (conf[lo:hi].mean() - correct[lo:hi].mean()) ** 2
    return math.sqrt(total)


@pytest.mark.parametrize("n,beta", [(100, 10), (105, 10), (3000, 100), (250, 100), (37, 5)])
def test_matches_the_definition_on_random_sets(n, beta):
    rng = np.random.default_rng(n + beta)
    conf = rng.uniform(0.1, 1.0, n)
    correct = rng.random(n) < conf ** 1.5
    assert rms_calibration_error_authors(conf, correct, bin_size=beta) == pytest.approx(
        _authors_by_definition(conf, correct, beta), abs=1e-12)
    # and the last bin is really what separates the two
    assert rms_calibration_error_authors(conf, correct, bin_size=beta) <= rms_calibration_error(conf, correct, beta)


def test_the_authors_statistic_checks_its_inputs():
    with pytest.raises(ValueError):
        rms_calibration_error_authors([0.5, 1.5], [0, 1], bin_size=1)
    with pytest.raises(ValueError):
        rms_calibration_error_authors([0.5, 0.5], [0, 2], bin_size=1)
    with pytest.raises(ValueError):
        rms_calibration_error_authors([0.5], [0, 1], bin_size=1)


def test_metrics_from_outputs_gives_both():
    rng = np.random.default_rng(3)
    lp = torch.log_softmax(torch.as_tensor(rng.normal(size=(300, 10)) * 2), 1).numpy()
    soft = rng.dirichlet(np.ones(10), size=300)
    m = metrics_from_outputs(lp, soft)
    conf, correct = np.exp(lp.max(1)), lp.argmax(1) == soft.argmax(1)
    assert m["calibration"] == pytest.approx(rms_calibration_error(conf, correct, bin_size=10), abs=1e-12)
    assert m["calibration_authors"] == pytest.approx(rms_calibration_error_authors(conf, correct, bin_size=10),
                                                     abs=1e-12)
    assert m["calibration_authors"] != pytest.approx(m["calibration"], abs=1e-6)


@pytest.mark.parametrize("drop_last", [False, True])
def test_the_batched_calibration_of_the_bootstrap_equals_the_scalar_one(drop_last):
    rng = np.random.default_rng(5)
    conf = np.round(rng.uniform(0.1, 1, (7, 53)), 2)                       # rounded: ties, as resampling makes
    correct = rng.random((7, 53)) < 0.6
    scalar = rms_calibration_error_authors if drop_last else rms_calibration_error
    got = batched_calibration(conf, correct, 10, drop_last)
    assert got == pytest.approx([scalar(c, k, bin_size=10) for c, k in zip(conf, correct)], abs=1e-12)


# ------------------------------------------------------------------------------------------------------------------
# Recomputed from kept outputs, and set beside the thesis
# ------------------------------------------------------------------------------------------------------------------


def _fake_run(tmp_path, monkeypatch, seed=0, keep_outputs=True):
    """A cached Chapter 3 run (smoke spec) with kept outputs on a 200-image "cifar10h" set whose last calibration
    bin is badly calibrated, so the two statistics differ; the soft labels are served in place of the chapter's."""
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path / "runs"))
    spec = make_spec(3, "T2Clamp", "small_cnn", seed=seed, profile="smoke", images="mirror_reconstruction")
    rng = np.random.default_rng(seed)
    n = 200
    idx = np.sort(rng.choice(np.arange(3000, 6000), n, replace=False))
    soft = np.eye(10)[rng.integers(0, 10, n)] * 0.9 + 0.01
    logits = rng.normal(size=(n, 10))
    logits[np.arange(n), soft.argmax(1)] += rng.choice([0.0, 2.5], n)
    wrong = (soft[-10:].argmax(1) + 1) % 10                                # the 10 most confident: all wrong
    logits[-10:] = 0.0
    logits[np.arange(n - 10, n), wrong] = 12.0
    lp = torch.log_softmax(torch.as_tensor(logits), 1).numpy().astype(np.float32)
    stored = metrics_from_outputs(lp, soft)
    record = {"key": spec.key, "spec": spec.as_dict(), "label": spec.label(), "profile": "smoke",
              "metrics": {"cifar10h": {k: stored[k] for k in ("ce", "accuracy", "calibration", "fgsm_loss",
                                                             "calibration_bin_size", "n")},
                          "cifar10s": {"ce": 1.0, "accuracy": 0.5, "calibration": 0.1, "fgsm_loss": 1.0}},
              "image_provenance": {"source": "mirror_reconstruction", "n_exact": 0, "n_total": 0, "detail": ""},
              "wall_time_s": 1.0, "device": "cpu"}
    stored["fgsm_loss"] = float(-(soft * lp).sum(1).mean())
    record["metrics"]["cifar10h"]["fgsm_loss"] = stored["fgsm_loss"]
    if keep_outputs:
        record["outputs"] = {"cifar10h": {"idx": idx, "log_probs": lp, "fgsm_log_probs": lp}}
    cache.save(spec, record, tmp_path / "runs")
    saved = cache.load(spec, tmp_path / "runs")
    monkeypatch.setattr(recompute, "_eval_sets", lambda s: {"cifar10h": (idx, soft)})
    recompute._LOADED.clear()
    lp16 = lp.astype(np.float16).astype(np.float64)
    conf, correct = np.exp(lp16.max(1)), lp16.argmax(1) == soft.argmax(1)
    return spec, saved, {"authors": rms_calibration_error_authors(conf, correct, bin_size=10),
                         "all": rms_calibration_error(conf, correct, bin_size=10), "stored": stored["calibration"]}


def test_tables_compare_the_authors_statistic_with_the_thesis_and_show_all_bins_beside_it(tmp_path, monkeypatch):
    spec, record, want = _fake_run(tmp_path, monkeypatch)
    assert want["authors"] < want["all"] - 0.01                             # the case where they differ
    frame = tables.summarise("3.1", [Row("Hard Labels", (spec,), eval_sets=("cifar10h",))], {spec.key: record})
    cal = frame[frame.metric == "Calibration"].iloc[0]
    assert cal.ours == pytest.approx(want["authors"], abs=1e-9)
    assert cal.thesis == pytest.approx(0.277) and cal.difference == pytest.approx(want["authors"] - 0.277)
    every = frame[frame.metric == "Calibration, all bins"].iloc[0]
    assert every.ours == pytest.approx(want["all"], abs=1e-9) and math.isnan(every.thesis)
    # the report sets the all-bins column right after the authors' one, and says which is which
    wide = render.wide_table("3.1", frame)
    head = [c.strip() for c in wide[0].strip("| ").split(" | ")]
    assert head[head.index("Calibration") + 1] == "Calibration, all bins"
    assert "last bin dropped" in "\n".join(render.table_body("3.1", frame.assign(profile="smoke")))


def test_without_kept_outputs_the_authors_cell_is_left_empty_not_filled_with_the_other_statistic(tmp_path,
                                                                                                  monkeypatch):
    spec, record, want = _fake_run(tmp_path, monkeypatch, keep_outputs=False)
    frame = tables.summarise("3.1", [Row("Hard Labels", (spec,), eval_sets=("cifar10h",))], {spec.key: record})
    assert "Calibration" not in set(frame.metric)
    assert frame[frame.metric == "Calibration, all bins"].iloc[0].ours == pytest.approx(want["stored"])


def test_outputs_changed_after_the_record_are_not_used(tmp_path, monkeypatch):
    spec, record, _ = _fake_run(tmp_path, monkeypatch)
    path = cache.outputs_path_for(spec, tmp_path / "runs")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["cifar10h/log_probs"] = arrays["cifar10h/log_probs"][::-1].copy()
    np.savez_compressed(path, **arrays)
    recompute._LOADED.clear()
    with pytest.warns(recompute.OutputsWarning, match="sha256"):
        assert recompute.recomputed(spec, record, "cifar10h") == {}


def test_a_record_without_an_outputs_checksum_never_takes_a_file_found_beside_it(tmp_path, monkeypatch):
    import warnings

    spec, record, _ = _fake_run(tmp_path, monkeypatch)
    bare = {k: v for k, v in record.items() if k not in ("outputs_sha256", "outputs_file")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert recompute.recomputed(spec, bare, "cifar10h") == {}
    assert recompute.recomputed(spec, record, "cifar10h")["calibration_authors"] > 0


def test_claims_read_the_comparable_statistic(tmp_path, monkeypatch):
    # the claims look calibration up under "Calibration", the cell that holds the authors' statistic
    from thesis_lib.reporting import claims

    spec, record, want = _fake_run(tmp_path, monkeypatch)
    frame = tables.summarise("3.1", [Row("Hard Labels", (spec,), eval_sets=("cifar10h",))], {spec.key: record})
    assert claims.Cells({"3.1": frame})("3.1", "Hard Labels", "Calibration").mean == pytest.approx(want["authors"])
    assert tables.METRICS["Calibration"] == "calibration_authors" and pd.Series(list(tables.METRICS)).is_unique
