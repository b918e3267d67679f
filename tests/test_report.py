"""The claim checker, the report, parallel runs, and resuming a killed notebook run."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thesis_lib import claims, reference, report
from thesis_lib.run import run_grid
from thesis_lib.runspec import make_spec

ROOT = Path(__file__).resolve().parents[1]


def _thesis_as_ours(tables=reference.TABLES, n=5):
    """The thesis's tables as if they were ours: its means and intervals, over ``n`` runs."""
    return {t: reference.published(t).rename(columns={"mean": "ours", "ci": "ours_ci"}).assign(n=n) for t in tables}


def _two_rows(lower, higher, ci=0.05, n=5):
    """Table 4.3-like frame: only the Agg pair of the claim "Confidence smoothing improves Agg's CE"."""
    return {"4.3": pd.DataFrame({"group": "CIFAR-10H", "metric": "CE", "n": n, "ours_ci": ci,
                                 "row": ["Ours (Agg, mean lambda_h with mean omega)", "Ours (Agg, mean lambda_h)"],
                                 "ours": [lower, higher]})}


def _verdict(frames, claim="Confidence smoothing improves Agg's CE"):
    return claims.check(frames).set_index("claim").loc[claim]


def test_claims_on_the_thesis_numbers_have_the_claimed_direction_and_ten_are_significant():
    verdicts = claims.check(claims.thesis_frames(), "thesis")
    assert set(reference.TABLES) <= set(verdicts.table), "at least one claim per table"
    assert not verdicts.verdict.isin([claims.REVERSED, claims.NOT_RUN]).any(), verdicts
    v = verdicts.set_index("claim").verdict
    assert (v == claims.HELD).sum() == 10 and (v == claims.NOT_SIGNIFICANT).sum() == 11
    assert v["Soft labels beat hard labels: CIFAR-10H and ours both have lower CE than hard labels (both evaluation "
             "sets)"] == claims.HELD
    assert v["De-aggregated T2 Clamp beats CIFAR-10H on CE on both evaluation sets"] == claims.NOT_SIGNIFICANT
    assert v["Sep < mixup labels < Agg on CE"] == claims.HELD
    # reading the three-model tables' intervals as over 15 runs instead of 5 changes no verdict
    wide = claims.check(claims.thesis_frames(), "thesis", thesis_n={"3.1": 15, "3.2": 15, "B.1": 15})
    assert (wide.verdict == verdicts.verdict).all()
    # the thesis's numbers given as ours (n = 5 each) get the same verdicts
    assert (claims.check(_thesis_as_ours()).verdict == verdicts.verdict).all()


def test_the_thesis_standard_deviation_comes_from_its_interval():
    # half-width 0.18 over 5 seeds: sd = 0.18 * sqrt(5) / t(0.975, 4) = 0.18 * 2.2361 / 2.7764
    assert claims.sd_from_ci(0.18, 5) == pytest.approx(0.144966, rel=1e-5)
    assert math.isnan(claims.sd_from_ci(0.18, 1)) and math.isnan(claims.sd_from_ci(math.nan, 5))
    # Welch's test on two 5-seed cells, against scipy on the raw seeds
    from scipy import stats

    a, b = np.array([1.0, 1.1, 0.9, 1.05, 0.95]), np.array([1.3, 1.2, 1.4, 1.25, 1.35])
    ca = claims.Cell(a.mean(), a.std(ddof=1), 5)
    cb = claims.Cell(b.mean(), b.std(ddof=1), 5)
    assert claims.welch_p(ca, cb) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_a_difference_in_the_claimed_direction_inside_huge_variance_is_not_significant():
    # today's mean-only comparison would call this "held"
    v = _verdict(_two_rows(2.09, 2.27, ci=1.0))
    assert v.verdict == claims.NOT_SIGNIFICANT and v.p > 0.05
    v = _verdict(_two_rows(2.09, 2.27, ci=0.04))
    assert v.verdict == claims.HELD and v.p < 0.05
    assert _verdict(_two_rows(2.27, 2.09, ci=0.04)).verdict == claims.REVERSED
    assert _verdict(_two_rows(2.27, 2.09, ci=1.0)).verdict == claims.REVERSED   # reversed, significant or not


def test_one_seed_is_only_indicative():
    v = _verdict(_two_rows(2.09, 2.27, ci=math.nan, n=1))
    assert v.verdict == claims.INDICATIVE_SAME and math.isnan(v.p)
    assert _verdict(_two_rows(2.27, 2.09, ci=math.nan, n=1)).verdict == claims.INDICATIVE_REVERSED


def test_a_compound_claim_takes_its_weakest_comparison_and_missing_tables_are_not_run():
    frames = _thesis_as_ours(("3.2", "4.2"))
    f = frames["3.2"]
    f.loc[(f.row == "Ours (T2, Clamp)") & (f.metric == "CE"), "ours"] = 9.9   # ours now worse than CIFAR-10H
    v = claims.check(frames).set_index("claim").verdict
    assert v["De-aggregated T2 Clamp beats CIFAR-10H on CE on both evaluation sets"] == claims.REVERSED
    assert v["Sep < mixup labels < Agg on CE"] == claims.HELD
    assert v["Ent-WC has the best FGSM loss"] == claims.NOT_RUN
    f = frames["4.2"]
    f.loc[f.row == "Ours (Agg, mean lambda_h)", "ours_ci"] = 2.0            # one part now not significant
    assert claims.check(frames).set_index("claim").verdict["Sep < mixup labels < Agg on CE"] == claims.NOT_SIGNIFICANT


def test_report_has_provenance_claims_tables_and_figures(tmp_path):
    (tmp_path / "results" / "tables").mkdir(parents=True)
    (tmp_path / "figures").mkdir()
    frame = reference.published("3.2").rename(columns={"mean": "thesis", "ci": "thesis_ci"})
    frame = frame.assign(ours=frame.thesis + 0.01, ours_ci=0.05, n=5, difference=0.01, thesis_in_ci=True,
                         profile="quick", images="mirror_reconstruction", rules="release")
    frame.to_csv(tmp_path / "results" / "tables" / "table_3_2.csv", index=False)
    (tmp_path / "figures" / "fig_x.png").write_bytes(b"\x89PNG")
    md, html = report.write(tmp_path / "results", tmp_path / "figures")
    text = md.read_text()
    assert "**Profile: quick**" in text and "mirror_reconstruction" in text and "not comparable" in text
    # side by side: the thesis's own numbers (n = 5), and ours (+0.01 each, wide intervals)
    assert ("| 3.2 | De-aggregated T2 Clamp beats CIFAR-10H on CE on both evaluation sets | **same direction, not "
            "significant** (p = 0.75) | **same direction, not significant** (p = ") in text
    assert "| 4.2 | Sep < mixup labels < Agg on CE | **held** (p = 0.0044) | **not run** |" in text
    assert "pools every model × seed run of a row" in text
    assert "Profile: **quick** · images: mirror_reconstruction · label rules: release" in text
    assert "### Table 3.1." in text and "*Not run at this profile.*" in text
    assert "| CIFAR-10H | Ours (T2, Clamp) | CE | 1.291 ± 0.050 | 1.281 ± 0.06 | +0.010 | yes |" in text
    assert "![fig_x](../figures/fig_x.png)" in text and "<table>" in html.read_text()


def test_tables_record_the_label_rule_set():
    from thesis_lib import tables

    rec = {"profile": "quick", "image_provenance": {"source": "official"}, "device": "cpu", "wall_time_s": 1.0,
           "spec": {"model": "small_cnn", "seed": 0, "rules": "release"}}
    old = {**rec, "spec": {"model": "small_cnn", "seed": 1}}      # a record from before the field: thesis rules
    assert tables.provenance([rec])["rules"] == "release"
    assert tables.provenance([rec, old])["rules"] == "release, thesis"
    assert "label rules: release" in tables.markdown("3.1", pd.DataFrame(), tables.provenance([rec]))


def test_parallel_jobs_train_every_run(tmp_path):
    specs = [make_spec(3, m, None, 0, "smoke", train_subset=300, eval_subset=200) for m in ("hard", "uniform")]
    records = run_grid(specs, device="cpu", progress=False, runs_root=tmp_path, jobs=2)
    assert [r["key"] for r in records] == [s.key for s in specs]
    assert len(list((tmp_path / "smoke").glob("*.json"))) == 2
    # each of the two concurrent runs held half the machine: device-hours count it once, not twice
    assert [r["device_share"] for r in records] == [0.5, 0.5]
    from thesis_lib.tables import device_hours

    assert device_hours(records) == pytest.approx(sum(r["wall_time_s"] for r in records) / 2 / 3600)
    assert device_hours([{"wall_time_s": 3600.0}]) == 1.0            # an older record without a share counts whole


def test_killed_notebook_resumes_without_recomputing(tmp_path):
    runs = tmp_path / "runs"
    env = dict(os.environ, THESIS_RUNS_DIR=str(runs))
    cmd = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "04_hmix.ipynb"), str(tmp_path / "out.ipynb"),
           "--cwd", str(ROOT / "notebooks"), "-p", "profile", "smoke", "-p", "results_dir", str(tmp_path / "res"),
           "-p", "figures_dir", str(tmp_path / "fig")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(runs.glob("smoke/*.json"))) < 3:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the notebook and its kernel, mid-grid
    proc.wait()
    first = {p.name: json.loads(p.read_text())["created"] for p in runs.glob("smoke/*.json")}
    assert 3 <= len(first) < 8, "killed part-way through the grid"
    assert not list(runs.rglob("*.tmp")), "no partial file is left behind"
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = {p.name: json.loads(p.read_text())["created"] for p in runs.glob("smoke/*.json")}
    assert len(after) == 8 and all(after[k] == v for k, v in first.items()), "finished runs were not recomputed"
    assert (tmp_path / "res" / "tables" / "table_4_3.md").is_file()
