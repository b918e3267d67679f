"""The claims at a glance (issue 22): the forest plot renders from cached records alone, on a CPU, names the
profile and seeds in its title, and shows a claim we did not run as "not run" instead of dropping it."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from thesis_lib.runs.grid import Row  # noqa: E402
from thesis_lib.reporting import claims, forest, tables  # noqa: E402
from thesis_lib.runs.spec import make_spec  # noqa: E402


@pytest.fixture(autouse=True)
def _no_cached_outputs(tmp_path, monkeypatch):
    """The synthetic records must not pick up a real run's kept outputs (same spec, same key) from the cache."""
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path / "runs"))


def _table_3_2(seeds=(0, 1, 2)):
    """Table 3.2 summarised from synthetic run records (no training): ours a little lower than CIFAR-10H."""
    specs = {m: tuple(make_spec(3, m, None, s, "quick", images="mirror_reconstruction", deaggregate=True)
                      for s in seeds) for m in ("cifar10h", "T2Clamp")}
    rows = [Row("CIFAR-10H", specs["cifar10h"]), Row("Ours (T2, Clamp)", specs["T2Clamp"])]
    records = {}
    for row in rows:
        for s in row.specs:
            v = (1.3 if s.label_method == "cifar10h" else 1.2) + 0.01 * s.seed
            records[s.key] = {"key": s.key, "spec": s.as_dict(), "profile": "quick", "device": "cpu",
                              "wall_time_s": 1.0, "image_provenance": {"source": "mirror_reconstruction"},
                              "metrics": {es: {"ce": v, "calibration": v / 10, "calibration_authors": v / 10,
                                               "fgsm_loss": 10 * v, "accuracy": 0.5}
                                          for es in ("cifar10h", "cifar10s")}}
    frame = tables.summarise("3.2", rows, records)
    return frame.assign(profile="quick", images="mirror_reconstruction")


def test_the_forest_plot_is_written_from_records_and_shows_what_did_not_run(tmp_path):
    frames = {"3.2": _table_3_2()}
    rows = forest.comparisons(frames)
    assert len(rows) == sum(len(c.comparisons) for c in claims.CLAIMS), "every comparison of every claim"
    ran = rows[rows.id == "3.2a"]
    assert (ran.ours_verdict == claims.HELD).all() and len(ran) == 6 and (ran.ours_n == 3).all()
    assert ran.ours_diff.notna().all() and ran.ours_ci.notna().all()
    not_run = rows[rows.ours_verdict == claims.NOT_RUN]
    assert len(not_run) == len(rows) - 6 and not_run.ours_diff.isna().all()
    assert rows.thesis_verdict.ne(claims.NOT_RUN).all()              # the thesis's side is always drawn

    fig = forest.figure(frames)
    shown = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert shown.count("not run") == len(not_run), "a claim with no runs is shown as such, not dropped"
    labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert len(labels) == len(rows) and any(lab.startswith("5.1a ") for lab in labels)
    assert "profile quick, 3 seeds per cell" in fig._suptitle.get_text()
    plt.close(fig)

    path = forest.write(frames, tmp_path / "figures")
    assert path == tmp_path / "figures" / "fig_claims_forest.png" and path.read_bytes()[:4] == b"\x89PNG"


def test_nothing_run_still_draws_every_claim(tmp_path):
    fig = forest.figure({})
    assert "profile nothing run" in fig._suptitle.get_text()
    n = sum(len(c.comparisons) for c in claims.CLAIMS)
    assert [t.get_text() for ax in fig.axes for t in ax.texts].count("not run") == n
    plt.close(fig)
    # a notebook's one call: every table written so far (here none) -> the figure, written and displayed
    forest.show(tmp_path / "results", tmp_path / "figures")
    assert (tmp_path / "figures" / "fig_claims_forest.png").is_file()


def test_one_seed_is_drawn_without_an_interval(tmp_path):
    frame = _table_3_2(seeds=(0,))
    rows = forest.comparisons({"3.2": frame})
    one = rows[rows.id == "3.2a"]
    assert one.ours_ci.isna().all() and (one.ours_verdict == claims.INDICATIVE_SAME).all()
    assert forest.title({"3.2": frame}).startswith("The thesis's claims at a glance: profile quick, 1 seed per cell")
    assert isinstance(forest.load(tmp_path), dict) and forest.load(tmp_path) == {}
    pd.testing.assert_frame_equal(rows, forest.comparisons({"3.2": frame, "4.1": pd.DataFrame()}))
