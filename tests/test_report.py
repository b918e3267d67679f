"""The claim checker, the report, parallel runs, and resuming a killed notebook run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from thesis_lib import claims, reference, report
from thesis_lib.run import run_grid
from thesis_lib.runspec import make_spec

ROOT = Path(__file__).resolve().parents[1]


def _thesis_as_ours(tables=reference.TABLES):
    return {t: reference.published(t).rename(columns={"mean": "ours"}) for t in tables}


def test_every_claim_holds_on_the_thesis_numbers():
    verdicts = claims.check(_thesis_as_ours())
    assert (verdicts.verdict == claims.HELD).all(), verdicts[verdicts.verdict != claims.HELD]
    assert set(reference.TABLES) <= set(verdicts.table), "at least one claim per table"


def test_a_claim_fails_when_the_numbers_say_otherwise_and_missing_tables_are_not_run():
    frames = _thesis_as_ours(("3.2", "4.2"))
    f = frames["3.2"]
    f.loc[(f.row == "Ours (T2, Clamp)") & (f.metric == "CE"), "ours"] = 9.9   # ours now worse than CIFAR-10H
    v = claims.check(frames).set_index("claim").verdict
    assert v["De-aggregated T2 Clamp beats CIFAR-10H on CE on both evaluation sets"] == claims.NOT_HELD
    assert v["Sep < mixup labels < Agg on CE"] == claims.HELD
    assert v["Ent-WC has the best FGSM loss"] == claims.NOT_RUN


def test_report_has_provenance_claims_tables_and_figures(tmp_path):
    (tmp_path / "results" / "tables").mkdir(parents=True)
    (tmp_path / "figures").mkdir()
    frame = reference.published("3.2").rename(columns={"mean": "thesis", "ci": "thesis_ci"})
    frame = frame.assign(ours=frame.thesis + 0.01, ours_ci=0.05, n=5, difference=0.01, thesis_in_ci=True,
                         profile="quick", images="mirror_reconstruction")
    frame.to_csv(tmp_path / "results" / "tables" / "table_3_2.csv", index=False)
    (tmp_path / "figures" / "fig_x.png").write_bytes(b"\x89PNG")
    md, html = report.write(tmp_path / "results", tmp_path / "figures")
    text = md.read_text()
    assert "**Profile: quick**" in text and "mirror_reconstruction" in text and "not comparable" in text
    assert "| 3.2 | De-aggregated T2 Clamp beats CIFAR-10H on CE on both evaluation sets | **held** |" in text
    assert "### Table 3.1." in text and "*Not run at this profile.*" in text
    assert "| CIFAR-10H | Ours (T2, Clamp) | CE | 1.291 ± 0.050 | 1.281 ± 0.06 | +0.010 | yes |" in text
    assert "![fig_x](../figures/fig_x.png)" in text and "<table>" in html.read_text()


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
