"""Provenance sensitivity (issue 22, part 3): each table's headline metrics on the pixel-exact evaluation images
alone beside all of them, the difference and its paired-bootstrap 95 % interval, in the report and the notebooks."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thesis_lib.runs.grid import Row
from thesis_lib.reporting import provenance_sensitivity as P
from thesis_lib.reporting.recompute import EvalOutputs
from thesis_lib.runs.spec import make_spec

ROOT = Path(__file__).resolve().parents[1]


def _outputs(rng, n=600, shift=0.0, exact=None, idx=None):
    """Synthetic per-image outputs: CE and FGSM per image, confidence and correctness consistent with it;
    ``shift`` is added to the CE and FGSM of the ``exact`` images (a provenance effect)."""
    exact = np.zeros(n, bool) if exact is None else exact
    conf = rng.uniform(0.3, 1.0, n)
    correct = rng.random(n) < conf * 0.9
    ce = rng.gamma(2.0, 0.5, n) + shift * exact
    return EvalOutputs(np.arange(n) if idx is None else idx, conf, correct, ce, ce + 0.5, 10)


def _mask(rng, n=600, k=60):
    m = np.zeros(n, bool)
    m[rng.choice(n, k, replace=False)] = True
    return m


def test_means_compare_exact_with_all_and_calibration_with_size_matched_subsets():
    rng = np.random.default_rng(0)
    mask = _mask(rng, n=3000, k=300)                                       # as offline: bins of 100 on all, 10 on exact
    out = _outputs(rng, n=3000, exact=mask)
    out = EvalOutputs(out.idx, out.confidence, rng.random(3000) < out.confidence, out.ce, out.fgsm, 100)  # calibrated
    res = P.sensitivity([out], [mask], n_boot=200, seed=1)
    assert res["ce"]["exact"] == pytest.approx(out.ce[mask].mean()) and res["ce"]["all"] == pytest.approx(out.ce.mean())
    assert res["ce"]["difference"] == pytest.approx(out.ce[mask].mean() - out.ce.mean())
    assert res["fgsm"]["all_matched"] == res["fgsm"]["all"]
    # calibration: a binned error on 60 images is larger than on 600 whatever the images; the reference is sized
    # like the exact subset, so with no provenance effect the difference is near 0 though exact - all is not
    cal = res["calibration"]
    assert cal["exact"] - cal["all"] > 0.05
    assert abs(cal["difference"]) < cal["exact"] - cal["all"]
    assert cal["ci_low"] < 0 < cal["ci_high"]


def test_an_effect_of_the_exact_images_is_found_with_its_sign():
    rng = np.random.default_rng(2)
    mask = _mask(rng)
    runs = [_outputs(rng, shift=-0.4, exact=mask) for _ in range(3)]
    res = P.sensitivity(runs, [mask] * 3, n_boot=300, seed=0)
    for f in ("ce", "fgsm"):
        assert res[f]["difference"] == pytest.approx(-0.4 * 540 / 600, abs=0.25)
        assert res[f]["ci_high"] < 0 and res[f]["ci_low"] < res[f]["difference"] < res[f]["ci_high"]
    assert res["ce"]["runs"] == 3 and res["ce"]["n_exact"] == 60 and res["ce"]["n_all"] == 600


def test_without_an_effect_the_interval_covers_zero_about_95_percent_of_the_time():
    # as offline: 292 exact among 3,000 (bins of 100 on all, of 10 on the exact ones); the calibration replicates
    # resample the exact images with repeats, which would shift them away from 0 if not re-centred
    fields = ("ce", "calibration_authors", "calibration")
    hits = dict.fromkeys(fields, 0)
    trials = 25
    for t in range(trials):
        rng = np.random.default_rng(100 + t)
        mask = _mask(rng, n=3000, k=292)
        res = P.sensitivity([_outputs(rng, n=3000, exact=mask)], [mask], n_boot=200, seed=t, fields=fields)
        for f in fields:
            hits[f] += res[f]["ci_low"] <= 0 <= res[f]["ci_high"]
            assert res[f]["ci_low"] < res[f]["difference"] < res[f]["ci_high"]
    for f, h in hits.items():
        assert h >= 0.84 * trials, (f, h)


def test_runs_on_the_same_images_share_the_draw_and_the_result_is_reproducible():
    rng = np.random.default_rng(4)
    mask = _mask(rng)
    out = _outputs(rng, exact=mask)
    one = P.sensitivity([out], [mask], n_boot=200, seed=7)
    twice = P.sensitivity([out, out], [mask, mask], n_boot=200, seed=7)
    again = P.sensitivity([out], [mask], n_boot=200, seed=7)
    assert one == again
    # two identical runs: the same difference, and (paired draws) no narrower an interval than one run's
    assert twice["ce"]["difference"] == pytest.approx(one["ce"]["difference"])
    width = lambda r: r["ce"]["ci_high"] - r["ce"]["ci_low"]  # noqa: E731
    assert width(twice) == pytest.approx(width(one), rel=0.25)


def test_a_set_whose_images_are_all_exact_differs_by_zero():
    rng = np.random.default_rng(5)
    out = _outputs(rng, n=100)
    res = P.sensitivity([out], [np.ones(100, bool)], n_boot=50)
    assert all(r["difference"] == 0 and r["ci_low"] == 0 == r["ci_high"] for r in res.values())


def _records(monkeypatch, source, n=300, k=40, seeds=(0, 1)):
    rng = np.random.default_rng(9)
    idx = np.sort(rng.choice(3000, n, replace=False))
    mask = np.zeros(10000, bool)
    mask[idx[rng.choice(n, k, replace=False)]] = True
    specs, records, outs = [], {}, {}
    for seed in seeds:
        spec = make_spec(4, "mixup", "small_cnn", seed=seed, profile="smoke", images=source)
        specs.append(spec)
        records[spec.key] = {"image_provenance": {"source": source}, "spec": spec.as_dict(), "metrics": {}}
        outs[spec.key] = _outputs(rng, n=n, idx=idx)
    monkeypatch.setattr(P, "eval_outputs", lambda spec, record, es, root=None: outs[spec.key])
    monkeypatch.setattr(P, "_exact_mask", lambda s: np.ones(10000, bool) if s == "official" else mask)
    return [Row("mixup", tuple(specs), eval_sets=("cifar10h",))], records


def test_a_table_frame_and_the_report_section(monkeypatch, tmp_path):
    rows, records = _records(monkeypatch, "mirror_reconstruction")
    frame = P.show({"4.1": rows}, records, tmp_path, n_boot=100)
    assert list(frame.metric) == list(P.HEADLINE) and set(frame.runs) == {2}
    assert (frame.n_exact == 40).all() and (frame.n_all == 300).all()
    assert P.csv_path(tmp_path, "4.1").is_file()
    tables = {"4.1": pd.DataFrame({"images": ["mirror_reconstruction"]}),
              "4.2": pd.DataFrame({"images": ["mirror_reconstruction"]})}
    text = "\n".join(P.report_section(tmp_path, tables, order=("4.1", "4.2")))
    assert text.startswith("## Provenance sensitivity") and "paired bootstrap" in text
    assert "| 4.1 | CIFAR-10H | CE | 2 |" in text and "size-matched" in text
    assert "(n = 40)" in text and "(n = 300)" in text
    assert "Not computed for Table 4.2" in text


def test_the_interval_that_excludes_zero_is_set_in_bold(tmp_path):
    frame = pd.DataFrame([{"table": "5.1", "group": "CIFAR-10H", "metric": "CE", "runs": 3, "n_all": 3000,
                           "n_exact": 292, "all": 1.0, "all_matched": 1.0, "exact": 1.2, "difference": 0.2,
                           "ci_low": 0.1, "ci_high": 0.3, "n_boot": 1000, "images": "mirror_reconstruction"},
                          {"table": "5.1", "group": "CIFAR-10H", "metric": "FGSM Loss", "runs": 3, "n_all": 3000,
                           "n_exact": 292, "all": 2.0, "all_matched": 2.0, "exact": 2.1, "difference": 0.1,
                           "ci_low": -0.1, "ci_high": 0.3, "n_boot": 1000, "images": "mirror_reconstruction"}])
    frame.to_csv(P.csv_path(tmp_path, "5.1"), index=False)
    text = "\n".join(P.report_section(tmp_path, {"5.1": pd.DataFrame({"images": ["mirror_reconstruction"]})}))
    assert "**+0.2000 [+0.1000, +0.3000]**" in text and "| +0.1000 [-0.1000, +0.3000] |" in text
    assert "2.0000 (n = 3,000)" in text and "(n = 292)" in text
    shown = P.readable(frame, bold=False)["difference [95 % interval]"]                # a notebook: no Markdown
    assert list(shown) == ["+0.2000 [+0.1000, +0.3000] (excludes 0)", "+0.1000 [-0.1000, +0.3000]"]


def test_with_the_official_archive_the_section_says_every_image_is_exact(monkeypatch, tmp_path):
    rows, records = _records(monkeypatch, "official")
    frame = P.table_sensitivity("4.1", rows, records, n_boot=50)
    assert len(frame) == 1 and frame.note.iloc[0] == P.ALL_EXACT
    text = "\n".join(P.report_section(tmp_path, {"4.1": pd.DataFrame({"images": ["official"]})}))
    assert "Every evaluation image is pixel-exact" in text and "|" not in text


def test_the_report_has_the_section(tmp_path):
    from thesis_lib.reporting import report

    (tmp_path / "tables").mkdir()
    md = report.markdown(tmp_path, tmp_path / "figures", tmp_path)
    assert "## Provenance sensitivity" in md


@pytest.mark.parametrize("nb", ["03_cifar10s", "04_hmix", "05_soft_mixup"])
def test_each_chapter_notebook_has_one_single_call_provenance_cell(nb):
    cells = json.loads((ROOT / "notebooks" / f"{nb}.ipynb").read_text())["cells"]
    calls = ["".join(c["source"]) for c in cells
             if c["cell_type"] == "code" and "ch.provenance_sensitivity()" in "".join(c["source"])]
    assert len(calls) == 1
    tree = ast.parse(calls[0])
    assert len(tree.body) == 1 and isinstance(tree.body[0], (ast.Assign, ast.Expr))
