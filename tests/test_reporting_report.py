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

from thesis_lib.reporting import claims
from thesis_lib.core import catalogue
from thesis_lib.reporting import render
from thesis_lib.cli import report as report_cli
from thesis_lib.reporting import report
from thesis_lib.runs.run import run_grid
from thesis_lib.runs.spec import make_spec

ROOT = Path(__file__).resolve().parents[1]


def _thesis_as_ours(tables=catalogue.TABLES, n=5):
    """The thesis's tables as if they were ours: its means and intervals, over ``n`` runs."""
    return {t: catalogue.published(t).rename(columns={"mean": "ours", "ci": "ours_ci"}).assign(n=n) for t in tables}


def _two_rows(lower, higher, ci=0.05, n=5):
    """Table 4.3-like frame: only the Agg pair of the claim "Confidence smoothing improves Agg's CE"."""
    return {"4.3": pd.DataFrame({"group": "CIFAR-10H", "metric": "CE", "n": n, "ours_ci": ci,
                                 "row": ["Ours (Agg, mean lambda_h with mean omega)", "Ours (Agg, mean lambda_h)"],
                                 "ours": [lower, higher]})}


#: a one-part claim for the checker's unit tests (the thesis's claims themselves: tests/test_reporting_claims.py)
_AGG = claims.Claim("4.3x", "4.3", "Confidence smoothing improves Agg's CE", "…", "§4.3.4 (from p. 38)",
                    (claims.Less("4.3", "Ours (Agg, mean lambda_h with mean omega)", "Ours (Agg, mean lambda_h)"),))


def _verdict(frames, claim=_AGG):
    return claims.check(frames, claims=(claim,)).iloc[0]


def test_the_report_says_how_many_claims_the_thesis_numbers_support(tmp_path):
    (tmp_path / "results" / "tables").mkdir(parents=True)
    text = report.markdown(tmp_path / "results", tmp_path / "figures", tmp_path / "results")
    assert "they support 12 of the 25 directional claims at p < 0.05." in text
    assert "**The thesis's own numbers:** 12 held, 11 same direction but not significant, 2 reversed, 3 no " in text
    # every claim quotes its sentence, with section and page
    assert ("- **5.2a** (§5.2.3 (from p. 46), Table 5.2 (p. 48)): “Table 5.2 reveals that mixing over soft labels "
            "confers sizable improvements") in text and "(0.087 -> 0.131)" in text


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
    frames = _thesis_as_ours(("3.2", "4.2", "4.3"))
    f = frames["3.2"]
    # 3.2a allows one of its six checks to fail ("nearly all checks"; the thesis's own FGSM on CIFAR-10S is one)
    f.loc[(f.row == "Ours (T2, Clamp)") & (f.metric == "CE") & (f.group == "CIFAR-10H"), "ours"] = 9.9   # a second
    v = claims.check(frames).set_index("id").verdict
    assert v["3.2a"] == claims.REVERSED
    assert v["4.2b"] == claims.HELD                              # Sep < Agg, in Tables 4.2 and 4.3
    assert v["5.1a"] == claims.NOT_RUN
    f = frames["4.2"]
    f.loc[f.row == "Ours (Agg, mean lambda_h)", "ours_ci"] = 2.0            # one part now not significant
    assert claims.check(frames).set_index("id").verdict["4.2b"] == claims.NOT_SIGNIFICANT


def test_report_has_provenance_claims_tables_and_figures(tmp_path):
    (tmp_path / "results" / "tables").mkdir(parents=True)
    (tmp_path / "figures").mkdir()
    frame = catalogue.published("3.2").rename(columns={"mean": "thesis", "ci": "thesis_ci"})
    frame = frame.assign(ours=frame.thesis + 0.01, ours_ci=0.05, n=5, difference=0.01, thesis_in_ci=True,
                         profile="quick", images="mirror_reconstruction", rules="release")
    frame.to_csv(tmp_path / "results" / "tables" / "table_3_2.csv", index=False)
    (tmp_path / "figures" / "fig_x.png").write_bytes(b"\x89PNG")
    md, html = report.write(tmp_path / "results", tmp_path / "figures")
    text = md.read_text()
    assert "**Profile: quick**" in text and "mirror_reconstruction" in text and "not comparable" in text
    # side by side: the thesis's own numbers (n = 5), and ours (+0.01 each, wide intervals; quick: indicative)
    assert ("| 3.2 | 3.2a: De-aggregated, our labels beat CIFAR-10H on CE, calibration and FGSM loss in all but one "
            "of the six checks | **same direction, not significant** (p = 8.6e-01) | indicative (not the thesis "
            "protocol): same direction, not significant (p = ") in text
    assert "| 4.2 | 4.2a: Sep beats mixup labels on CE | **held** (p = 1.4e-05) | not run |" in text
    # the claims at a glance, written at every profile and shown at the top
    assert (tmp_path / "figures" / "fig_claims_forest.png").is_file()
    assert text.index("![fig_claims_forest](../figures/fig_claims_forest.png)") < text.index("## The thesis's claims")
    assert "pools every model × seed run of a row" in text
    assert "Profile: **quick** · images: mirror_reconstruction · label rules: release" in text
    assert "### Table 3.1." in text and "*Not run at this profile.*" in text
    assert "|  | Ours (T2, Clamp) | 1.291 ± 0.050 / 1.281 ✓ | 0.194 ± 0.050 / 0.184 ✓ |" in text
    assert "![fig_x](../figures/fig_x.png)" in text and "<table>" in html.read_text()


def _fake_records(rows, seeds_metric=lambda spec: 1.0 + 0.01 * spec.seed):
    """Cached-run records for every spec of ``rows``, with the same value for every metric."""
    recs = {}
    for row in rows:
        for s in row.specs:
            v = seeds_metric(s)
            metrics = {es: {"ce": v, "calibration": v / 10, "fgsm_loss": 10 * v, "accuracy": 0.5} for es in
                       ("cifar10h", "cifar10s")}
            recs[s.key] = {"key": s.key, "metrics": metrics, "spec": s.as_dict(), "profile": s.profile,
                           "image_provenance": {"source": "mirror_reconstruction"}, "device": "cpu",
                           "wall_time_s": 1.0}
    return recs


def _smoke_table(tmp_path, table="3.2", seeds=(0, 1), profile="smoke", rows=None):
    """A table written by :func:`thesis_lib.reporting.tables.write` from fake runs of ``rows`` (default: Table 3.2's)."""
    from thesis_lib.reporting import tables
    from thesis_lib.runs.grid import Row

    if rows is None:
        specs = {m: tuple(make_spec(3, m, None, s, profile, images="mirror_reconstruction", deaggregate=True)
                          for s in seeds) for m in ("cifar10h", "T2Clamp")}
        rows = [Row("CIFAR-10H", specs["cifar10h"]), Row("Ours (T2, Clamp)", specs["T2Clamp"])]
    records = _fake_records(rows)
    frame = tables.summarise(table, rows, records)
    tables.write(table, frame, list(records.values()), tmp_path / "results" / "tables")
    return frame


def test_tables_are_wide_as_the_thesis_prints_them_with_the_protocol_that_ran(tmp_path):
    _smoke_table(tmp_path)
    csv = pd.read_csv(tmp_path / "results" / "tables" / "table_3_2.csv")
    assert {"models", "epochs", "seeds", "runs", "n_seeds"} <= set(csv.columns)
    assert csv.runs.iloc[0] == 4 and csv.n_seeds.max() == 2 and str(csv.seeds.iloc[0]) == "0, 1"
    text = report.markdown(tmp_path / "results", tmp_path / "figures", tmp_path / "results")
    section = text[text.index("### Table 3.2."):text.index("### Table 3.3.")]
    # rows x metrics, each cell ours ± CI / thesis; 2 seeds < 5 marked with a dagger
    # fake records keep no outputs: no authors' calibration beside the thesis's, only the stored all-bins value
    assert "| evaluation | labels | CE | Calibration | Calibration, all bins | FGSM Loss |" in section
    assert "| **CIFAR-10H** | CIFAR-10H | 1.005 ± 0.064 † / 1.293 | – / 0.194 | 0.101 ± 0.006 † / – |" in section
    assert "|  | Ours (T2, Clamp) | 1.005 ± 0.064 † / 1.281 |" in section
    assert "| **CIFAR-10S** | CIFAR-10H | 1.005 ± 0.064 † / 2.459 |" in section
    assert "†: fewer than 5 seeds (here 2)" in section
    assert "| CIFAR-10H | Ours (T2, Clamp) | CE |" not in text, "no long format"
    assert "Accuracy" not in section, "the thesis prints no accuracy"
    # the protocol that ran beside the thesis's, and how much of the thesis protocol the table holds
    # smoke runs are never counted as runs of the thesis protocol (issue 22)
    assert ("Ran: small CNN, 1 epoch, 2 seeds; thesis: ResNet-34A/ResNet-50/VGG-11, 65 epochs, 5 seeds. "
            "4 runs at the smoke profile (not the thesis protocol, which trains 30).") in section
    assert "of the thesis protocol" not in section


def test_only_full_profile_runs_count_as_runs_of_the_thesis_protocol(tmp_path):
    _smoke_table(tmp_path, profile="full", seeds=(0, 1))
    text = report.markdown(tmp_path / "results", tmp_path / "figures", tmp_path / "results")
    section = text[text.index("### Table 3.2."):text.index("### Table 3.3.")]
    assert "**4 of 30 runs** of the thesis protocol." in section and "profile (not the thesis" not in section


def test_a_thesis_row_we_did_not_run_shows_the_thesis_value_and_counts_as_missing(tmp_path):
    from thesis_lib.runs.grid import Row

    specs = tuple(make_spec(3, "cifar10h", None, 0, "smoke", images="mirror_reconstruction", deaggregate=True)
                  for _ in range(1))
    _smoke_table(tmp_path, rows=[Row("CIFAR-10H", specs)])
    text = report.markdown(tmp_path / "results", tmp_path / "figures", tmp_path / "results")
    assert "| **CIFAR-10H** | CIFAR-10H | 1.000 † / 1.293 |" in text      # one seed: no interval
    assert "|  | Ours (T2, Clamp) | – / 1.281 | – / 0.184 |  | – / 8.406 |" in text
    assert "Ran: small CNN, 1 epoch, 1 seed; thesis:" in text and "1 run at the smoke profile (not the thesis" in text
    assert "of 30 runs" not in text


def test_greek_letters_are_shown_as_symbols(tmp_path):
    (tmp_path / "results" / "tables").mkdir(parents=True)
    for tid in ("4.3", "C.1"):
        frame = catalogue.published(tid).rename(columns={"mean": "thesis", "ci": "thesis_ci"})
        frame.assign(ours=frame.thesis, ours_ci=0.01, n=5, n_seeds=5, thesis_in_ci=True, difference=0.0,
                     profile="full", images="official", rules="thesis").to_csv(
            tmp_path / "results" / "tables" / f"table_{tid.replace('.', '_')}.csv", index=False)
    text = report.markdown(tmp_path / "results", tmp_path / "figures", tmp_path / "results")
    assert "| Ours (Sep, λ_h^m with ω_m) |" in text and "Ours (Agg, mean λ_h with mean ω)" in text
    assert "Confidence smoothing γ^ω (γ = 0.005)" in text and "τ_ij(λ_f)" in text and "| τ mixing, Ent-WC |" in text
    assert "τ mixing with Ent-WC has the best CE" in text
    for ascii_name in ("lambda", "omega", "gamma", "tau ", "tau_"):
        assert ascii_name not in text
    assert render.symbols("kappa = 0.7, beta, Psi, alphabet") == "κ = 0.7, β, Ψ, alphabet"


def test_verdicts_off_the_thesis_protocol_are_indicative_never_bold(tmp_path):
    def verdict_rows(profile, n_seeds):
        (tmp_path / profile / "tables").mkdir(parents=True)
        frame = catalogue.published("4.3").rename(columns={"mean": "thesis", "ci": "thesis_ci"})
        frame.assign(ours=frame.thesis, ours_ci=frame.thesis_ci, n=5, n_seeds=n_seeds, profile=profile,
                     difference=0.0, images="official", rules="thesis", thesis_in_ci=True).to_csv(
            tmp_path / profile / "tables" / "table_4_3.csv", index=False)
        text = report.markdown(tmp_path / profile, tmp_path / "figures", tmp_path / profile)
        return text, [line for line in text.splitlines() if line.startswith("| 4.3 |")]

    text, rows = verdict_rows("smoke", 5)
    ours = [r.split(" | ")[3] for r in rows]
    assert all(o.startswith("indicative (not the thesis protocol): ") and "**" not in o for o in ours), ours
    assert "indicative (not the thesis protocol): held (p = " in rows[1]
    assert "**Ours:**" not in text and "Ours, indicative (not the thesis protocol): " in text
    text, rows = verdict_rows("full", 5)                       # the thesis protocol: findings, in bold
    assert "| **held** (p = " in rows[1] and "indicative (not" not in rows[1] and "**Ours:**" in text
    text, rows = verdict_rows("quick", 1)
    assert all("indicative (not the thesis protocol)" in r for r in rows)


def test_counts_are_integers_and_p_values_scientific(tmp_path):
    tables_dir = tmp_path / "results" / "tables"
    tables_dir.mkdir(parents=True)
    pd.DataFrame({"statistic": ["participants (N)", "images labelled", "share of CIFAR-10 test set"],
                  "computed": [248.0, 1000.0, 0.1], "thesis": ["N = 248", "1,000", "10 %"]}).to_csv(
        tables_dir / "chapter3_data_statistics.csv", index=False)
    pd.DataFrame({"id": ["S1", "S2"], "statistic": [12.5, 3.0], "p_value": [0.00032, 0.5], "n": [33.0, float("nan")],
                  "held": [True, False]}).to_csv(tables_dir / "chapter4_statements.csv", index=False)
    frame = catalogue.published("4.2").rename(columns={"mean": "thesis", "ci": "thesis_ci"})
    frame.assign(ours=frame.thesis, ours_ci=frame.thesis_ci, n=5, profile="full", images="official", difference=0.0,
                 thesis_in_ci=True, rules="thesis").to_csv(tables_dir / "table_4_2.csv", index=False)
    text = report.markdown(tmp_path / "results", tmp_path / "figures", tmp_path / "results")
    assert "| participants (N) | 248 | N = 248 |" in text and "| images labelled | 1000 | 1,000 |" in text
    assert "| share of CIFAR-10 test set | 0.1 | 10 % |" in text
    assert "| S1 | 12.5 | 3.2e-04 | 33 | yes |" in text and "| S2 | 3 | 5.0e-01 | – | no |" in text
    assert "248.0" not in text and "0.0003" not in text
    assert "| id | statistic | p value | n | held |" in text and "p_value" not in text   # column names as words
    assert "| 4.2 | 4.2a: Sep beats mixup labels on CE | **held** (p = 1.4e-05) | **held** (p = 1.4e-05, n = 5) |" in text
    assert render.format_p(0.00032) == "3.2e-04" and render.format_number(51.0) == "51"


def _png(path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    fig.savefig(path)
    plt.close(fig)


def test_figures_are_embedded_in_thesis_order_under_thesis_captions(tmp_path):
    import re

    figures = tmp_path / "my figures"                          # a space in the path: the link gets escaped
    figures.mkdir()
    for stem in ("fig_B_1_highest_wasserstein", "fig_4_4_category_boundary", "fig_3_5_annotation_cost", "fig_zz"):
        _png(figures / f"{stem}.png")
    _smoke_table(tmp_path)
    md, html = report.write(tmp_path / "results", figures)
    text, page = md.read_text(), html.read_text()
    a, b, c = (text.index(s) for s in ("**Fig. 3.5.** Comparison of learner performance as a factor of estimated "
                                        "total cost of elicitation (M · t_per)", "**Fig. 4.4.** An example",
                                        "**Fig. B.1.** Top three highest Wasserstein"))
    assert a < b < c < text.index("**fig_zz** (not a figure of the thesis)")
    assert "M ∈ {1, 2, 4, 8, 16, 32, 51}" in text and "λ_f is depicted against λ_h" in text
    assert "](../my%20figures/fig_3_5_annotation_cost.png)" in text       # the Markdown keeps working links
    srcs = re.findall(r'src="([^"]*)"', page)                 # the claims at a glance first, then the four
    assert len(srcs) == 5 and all(s.startswith("data:image/png;base64,iVBOR") for s in srcs), srcs[:1]
    assert text.index("![fig_claims_forest](") < text.index("## The thesis's claims") < a
    assert "figures" not in "".join(srcs) and "Fig. 3.5." in page
    # the HTML survives being moved away from the figures
    moved = tmp_path / "elsewhere" / "REPORT.html"
    moved.parent.mkdir()
    moved.write_text(page)
    assert re.findall(r'src="([^"]*)"', moved.read_text()) == srcs


def test_figure_captions_are_the_thesis_own():
    thesis = ROOT.parent / "shared" / "thesis" / "thesis.txt"
    if not thesis.is_file():
        thesis = Path("/work/shared/thesis/thesis.txt")
    if not thesis.is_file():
        pytest.skip("thesis text not available")
    import re

    def letters(text):                  # LaTeX commands and everything but letters dropped: "$\\lambda = 0.5$" ~ "λ = 0.5"
        return re.sub(r"[^a-z]", "", re.sub(r"\\[a-z]+", "", text.lower()))

    body = letters(thesis.read_text())
    for fig in catalogue.FIGURES:
        if fig.number:
            assert letters(f"Fig. {fig.number} {fig.caption}") in body, fig.stem


def test_no_table_is_an_error(tmp_path):
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    with pytest.raises(report.MissingTables, match="no table"):
        report.check_tables(results_dir=results)
    assert report_cli.main(["--results", str(results), "--figures", str(tmp_path / "figures")]) == 1
    assert "Error: no table was produced" in (results / "REPORT.md").read_text()
    _smoke_table(tmp_path)                                    # Table 3.2: notebook 03 produced a table
    assert set(report.check_tables(["03", "notebooks/03_cifar10s.ipynb", "3.2"], results)) == {"3.2"}
    assert report_cli.main(["--results", str(results), "--figures", str(tmp_path / "figures"), "--require", "03"]) == 0
    with pytest.raises(report.MissingTables, match="notebook 04_hmix produced no table"):
        report.check_tables(["03", "04_hmix"], results)
    with pytest.raises(report.MissingTables, match="Table 3.1 is missing"):
        report.check_tables(["3.1"], results)
    assert report_cli.main(["--results", str(results), "--figures", str(tmp_path / "figures"), "--require",
                        "notebooks/05_soft_mixup.ipynb"]) == 1
    # tables left from an earlier run do not count for this one
    with pytest.raises(report.MissingTables, match="no table"):
        report.check_tables(["03"], results, since=time.time() + 60)
    # a table file without rows is no table
    (results / "tables" / "table_4_1.csv").write_text("group,row,metric,ours\n")
    with pytest.raises(report.MissingTables, match="notebook 04 produced no table"):
        report.check_tables(["04"], results)


def test_thesis_protocol_is_the_full_grid_and_the_thesis_own():
    """The captions' thesis protocol is read off each chapter's full grid (no second copy): the thesis's models and
    epochs (sections 3.3 and 4.3.1), 5 seeds, and 270 distinct table runs in all; each notebook writes its
    chapter's tables, as the catalogue says."""
    from thesis_lib.chapters import grids

    every = grids.build_tables("full", catalogue.table_ids(), images="official")
    assert tuple(every.tables) == catalogue.table_ids() and len(every.specs()) == 270
    three = ("resnet34a", "resnet50", "vgg11")
    for tid in catalogue.table_ids():
        models, epochs, runs = grids.thesis_protocol(tid)
        want = ((three if tid in ("3.1", "3.2", "B.1") else ("resnet34a",), 65) if catalogue.chapter_of(tid) == 3
                else (("preact_resnet18",) if tid[0] == "4" else ("preact_resnet34",), 200))
        assert (models, epochs) == want, tid
        assert runs == len(every.tables[tid]) * len(models) * catalogue.THESIS_SEEDS, tid
    assert {t: report.notebook_tables(catalogue.TABLES[t].notebook) for t in ("3.1", "B.3", "4.2", "C.1")} == {
        "3.1": catalogue.table_ids(3), "B.3": catalogue.table_ids(3), "4.2": ("4.1", "4.2", "4.3"),
        "C.1": ("5.1", "5.2", "C.1")}


def test_tables_record_the_label_rule_set():
    from thesis_lib.reporting import tables

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
    from thesis_lib.reporting.tables import device_hours

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


def test_figure_captions_say_what_our_figure_shows_where_it_differs(tmp_path):
    """Fig 3.4's thesis caption names frog, airplane, frog; ours may show other images, and Fig 3.5's caption
    promises 5 seeds and interval bars: the report adds what our figure shows (issue 22), and a notebook cell
    ending in ``save(...)`` shows the saved path, not ``PosixPath(...)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from thesis_lib.chapters.ch3 import plots
    from thesis_lib.chapters.common import note_of

    onehot = np.eye(10)
    frame = pd.DataFrame({"hard": [3, 5, 6], "cifar10s": list(onehot[[3, 5, 6]]), "cifar10h": list(onehot[[3, 5, 6]]),
                          "annotators": [6, 6, 6]}, index=pd.Index([4, 1, 2], name="index"))
    images = np.zeros((5, 32, 32, 3), dtype=np.uint8)
    figures = tmp_path / "figures"
    fig = plots.label_comparisons(images, frame, thesis_classes=plots.THESIS_CLASSES["3.4"])
    saved = plots.save(fig, "fig_3_4_cifar10s_vs_cifar10h", figures)
    plt.close(fig)
    assert "PosixPath" not in repr(saved) and repr(saved).startswith("saved ") and saved.is_file()
    same = plots.label_comparisons(images, frame.assign(hard=[6, 0, 6]), thesis_classes=("frog", "airplane", "frog"))
    assert "the same classes as the thesis's figure (frog, airplane and frog)" in note_of(same)
    plt.close(same)

    class P:                                          # a Fig 3.5 point with one run
        def __init__(self, series, x):
            self.series, self.x, self.specs = series, x, (make_spec(3, series, None, 0, "smoke",
                                                                    images="mirror_reconstruction"),)
    points = [P("cifar10h", 1), P("T2Clamp", 2)]
    records = {p.specs[0].key: {"metrics": {es: {"ce": 1.0, "calibration": 0.1, "fgsm_loss": 2.0}
                                            for es in ("cifar10h", "cifar10s")}} for p in points}
    fig = plots.metric_curves(points, records)
    plots.save(fig, "fig_3_5_annotation_cost", figures)
    plt.close(fig)
    (tmp_path / "results" / "tables").mkdir(parents=True)
    caps = dict((p.stem, c) for p, c in report.figure_list(figures))
    c34 = caps["fig_3_4_cifar10s_vs_cifar10h"]
    assert "frog, airplane, and frog, respectively." in c34              # the thesis's caption stays
    assert ("**Our figure:** test images 4, 1 and 2 (CIFAR-10 labels cat, dog and frog), picked by the thesis's "
            "rule from our labels; not the thesis's images (its figure shows frog, airplane and frog).") in c34
    c35 = caps["fig_3_5_annotation_cost"]
    assert "over the 5 seeds" in c35 and "**Our figure:** each dot rests on one seed, not an average over 5" in c35
    assert "no interval bars" in c35
    # a figure saved again without a note loses the old one
    fig = plt.figure()
    plots.save(fig, "fig_3_5_annotation_cost", figures)
    plt.close(fig)
    assert "Our figure" not in dict((p.stem, c) for p, c in report.figure_list(figures))["fig_3_5_annotation_cost"]
