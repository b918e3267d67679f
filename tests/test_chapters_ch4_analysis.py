"""Section 4.2 analyses: hand-made frames with known answers, then the real H-Mix data (THESIS_DATA_DIR)."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from thesis_lib import CLASSES  # noqa: E402
from thesis_lib.chapters.ch4 import analysis as c4  # noqa: E402
from thesis_lib.chapters.ch4 import plots as p4  # noqa: E402

COLUMNS = ["stimulus", "lambda_f", "class_a", "idx_a", "class_b", "idx_b", "annotator", "lambda_h", "omega"]
DEER, AIRPLANE, DOG = CLASSES.index("deer"), CLASSES.index("airplane"), CLASSES.index("dog")


def _probs():
    """Image 0, 1: one-hot (H = 0); image 2, 3: uniform over 10 classes (H = ln 10 nats)."""
    p = np.zeros((4, 10))
    p[0, 0] = p[1, 4] = 1.0
    p[2:] = 0.1
    return p


def _frame(rows):
    return pd.DataFrame(rows, columns=COLUMNS)


# ------------------------------------------------------------------------------------------ hand-made frames
def test_relabel_frame_aggregates_per_stimulus_and_endpoint_entropy():
    raw = _frame([("s1", 0.25, DEER, 0, AIRPLANE, 2, 0, 0.2, 0.9),
                  ("s1", 0.25, DEER, 0, AIRPLANE, 2, 1, 0.4, 0.5),
                  ("s1", 0.25, DEER, 0, AIRPLANE, 2, 2, 0.6, 0.4),
                  ("s2", 0.5, DOG, 2, AIRPLANE, 3, 0, 1.0, 0.1),
                  ("s2", 0.5, DOG, 2, AIRPLANE, 3, 1, 0.0, 0.3)])
    f = c4.relabel_frame(raw, _probs())
    s1, s2 = f[f.stimulus == "s1"].iloc[0], f[f.stimulus == "s2"].iloc[0]
    assert s1.lambda_bar_h == pytest.approx(0.4) and s1.omega_bar == pytest.approx(0.6) and s1.n_annotators == 3
    assert s2.lambda_bar_h == pytest.approx(0.5) and s2.omega_bar == pytest.approx(0.2) and s2.n_annotators == 2
    assert s1.H_a == pytest.approx(0.0) and s1.H_b == pytest.approx(np.log(10))
    assert s2.H_mean == pytest.approx(np.log(10))
    assert f.relabel.tolist() == pytest.approx([0.05, 0.15, 0.35, 0.5, 0.5])
    assert c4.relabel_frame(raw, _probs(), entropy_units="bits").H_b.iloc[0] == pytest.approx(np.log2(10))
    s = c4.stimulus_frame(f).set_index("stimulus")
    # mean amount of relabelling vs relabelling of the mean label: averaging cancels s2's opposite judgements
    assert s.loc["s2", "relabel"] == pytest.approx(0.5) and s.loc["s2", "relabel_of_mean"] == pytest.approx(0.0)
    assert s.loc["s1", "relabel"] == pytest.approx(0.55 / 3) and s.loc["s1", "relabel_of_mean"] == pytest.approx(0.15)


def test_category_boundary_orients_lambda_to_the_reference_class():
    raw = _frame([("deer_first", 0.25, DEER, 0, AIRPLANE, 1, 0, 0.3, 0.5),          # weight of deer: 0.25 -> 0.3
                  ("airplane_first", 0.75, AIRPLANE, 1, DEER, 0, 0, 0.6, 0.5),    # weight of deer: 0.25 -> 0.4
                  ("airplane_first_2", 0.9, AIRPLANE, 1, DEER, 0, 0, 1.0, 0.5),   # weight of deer: 0.1 -> 0.0
                  ("other_pair", 0.25, DOG, 2, DEER, 0, 0, 0.9, 0.5)])
    b = c4.category_boundary(c4.relabel_frame(raw, _probs()), "deer", "airplane")
    j = b.judgements.set_index("stimulus")
    assert set(j.index) == {"deer_first", "airplane_first", "airplane_first_2"}
    assert j.loc["airplane_first", "lambda_f"] == pytest.approx(0.25) and j.loc["airplane_first", "lambda_h"] == \
        pytest.approx(0.4)
    assert j.loc["airplane_first_2", "lambda_f"] == pytest.approx(0.1) and j.loc["airplane_first_2", "lambda_h"] == \
        pytest.approx(0.0)
    assert j.loc["deer_first", "lambda_h"] == pytest.approx(0.3) and bool(j.loc["deer_first", "reference_first"])
    assert b.means.loc[0.25, "mean"] == pytest.approx(0.35) and b.means.loc[0.25, "n"] == 2
    # the same pair seen from the other class is the mirror image
    flipped = c4.category_boundary(c4.relabel_frame(raw, _probs()), "airplane", "deer").means
    assert flipped.loc[0.75, "mean"] == pytest.approx(1 - 0.35)


def test_example_relabellings_picks_largest_deviation_and_reports_thesis_value():
    raw = _frame([("a", 0.75, AIRPLANE, 1, DOG, 2, 0, 0.8, 0.5),    # dog weight 0.25 -> 0.2 (deviation 0.05)
                  ("b", 0.25, DOG, 2, AIRPLANE, 1, 0, 0.6, 0.5),    # dog weight 0.25 -> 0.6 (deviation 0.35)
                  ("c", 0.25, DOG, 2, AIRPLANE, 1, 0, 0.4, 0.5),    # dog weight 0.25 -> 0.4 (deviation 0.15)
                  ("d", 0.5, DOG, 2, AIRPLANE, 1, 0, 1.0, 0.5)])    # other coefficient: not a candidate
    ex = c4.example_relabellings(c4.relabel_frame(raw, _probs()), [("dog", "airplane", 0.25, 0.42)]).iloc[0]
    assert ex.stimulus == "b" and ex.n_candidates == 3
    assert ex.lambda_bar_h_1 == pytest.approx(0.6) and ex.lambda_bar_h_2 == pytest.approx(0.4)
    assert ex.closest_to_thesis_stimulus == "c" and ex.thesis_lambda_h_2 == pytest.approx(0.58)


def test_entropy_group_and_holm():
    groups = c4.entropy_group([0.6, 0.05, 0.6, 0.3], [0.5, 0.1, 0.05, 0.3], high=0.5, low=0.1)
    assert groups.tolist() == [c4.GROUP_HIGH, c4.GROUP_LOW, c4.GROUP_OTHER, c4.GROUP_OTHER]
    assert c4._holm(np.array([0.01, 0.04, 0.03])).tolist() == pytest.approx([0.03, 0.06, 0.06])


def _synthetic(omega_of, n_per=30, seed=0):
    """Stimuli at each lambda_f, two judgements each; endpoints alternate both-low / both-high / mixed entropy.
    Judged lambda_h deviates from lambda_f by the same amounts in every entropy group (no relabelling effect)."""
    rng = np.random.default_rng(seed)
    ends = [(0, 1), (2, 3), (0, 2)]
    rows = []
    for lam in c4.LAMBDA_F_VALUES:
        for i in range(n_per):
            a, b = ends[i % 3]
            for m in range(2):
                dev = (0.05, -0.1, 0.15, -0.2, 0.1)[(i // 3 + m) % 5]
                rows.append((f"{lam}_{i}", lam, DEER, a, AIRPLANE, b, m, float(np.clip(lam + dev, 0, 1)),
                             float(np.clip(omega_of(lam, a, rng), 0, 1))))
    return c4.relabel_frame(_frame(rows), _probs())


def test_statement_a_holds_when_confidence_dips_at_one_half_and_not_when_flat():
    dip = _synthetic(lambda lam, a, rng: 0.8 - 0.5 * (lam == 0.5) + rng.normal(0, 0.05))
    flat = _synthetic(lambda lam, a, rng: 0.7 + rng.normal(0, 0.05))
    for level in ("stimulus", "judgement"):
        t = c4.statement_tests(dip, level=level).set_index("id")
        assert t.loc[["a1", "a2", "a3"], "held"].all()
        f = c4.statement_tests(flat, level=level).set_index("id")
        assert not f.loc["a1", "held"] and not f.loc["a3", "held"]


def test_statements_b_c_d_on_synthetic_entropy_effects():
    # image 0/1 low entropy, 2/3 high: confidence is low only when both endpoints are high entropy (a == 2)
    f = _synthetic(lambda lam, a, rng: (0.3 if a == 2 else 0.8) + rng.normal(0, 0.05))
    t = c4.statement_tests(f).set_index("id")
    assert t.loc["b", "held"] and t.loc["b", "p_value"] < 1e-6
    assert t.loc["c1", "held"] and t.loc["c2", "held"]      # deviations do not depend on entropy by construction
    assert t.loc["d", "held"] and t.loc["d", "statistic"] <= 0.1
    # reversed: high-entropy endpoints give *higher* confidence, so the one-sided test must not hold
    r = c4.statement_tests(_synthetic(lambda lam, a, rng: (0.9 if a == 2 else 0.4) + rng.normal(0, 0.05)))
    assert not r.set_index("id").loc["b", "held"]


def test_the_statements_read_as_a_table_not_a_raw_dataframe():
    f = _synthetic(lambda lam, a, rng: (0.3 if a == 2 else 0.8) + rng.normal(0, 0.05))
    raw = c4.statement_tests(f)
    shown = c4.readable_statements(raw)
    assert list(shown.columns) == ["statement", "level", "what is tested", "test", "statistic", "p", "held",
                                   "the thesis says"]
    assert set(shown.held) <= {"yes", "no"} and "p_value" not in shown and "thesis_says" not in shown
    b = shown.set_index("statement").loc["b"]
    assert b.held == "yes" and b.p == f"{raw.set_index('id').loc['b', 'p_value']:.1e}" and "e-" in b.p
    assert "True" not in shown.to_string() and "nan" not in shown.to_string()


def test_participant_statistics_on_a_tiny_raw_table():
    def trial(subject, i, name, task="rate_mixture", coeff=30):
        return {"subject": subject, "trial_index": i, "filename": name, "task": task,
                "responses": json.dumps({"mixingcoeff": coeff, "confidence": 50})}
    raw = pd.DataFrame([trial("p1", 0, "x"), trial("p1", 1, "y"), trial("p1", 2, "x", "rerun_rate_mixture", 40),
                        trial("p2", 0, "y"), trial("p2", 1, "x"), trial("p2", 2, "other_collection")])
    t = c4.participant_statistics({"x", "y"}, raw).set_index("quantity").ours
    assert t["participants"] == "2" and t["images per participant"] == "2-3"
    assert t["participants per image"].startswith("2-2") and t["trials repeated"] == "0"
    assert t["repeat consistency |delta lambda_h|"].startswith("median 0.10")


# --------------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real():
    return c4.relabel_frame()


def test_real_data_all_810_stimuli_and_lambdas_in_range(real):
    assert real.stimulus.nunique() == 810 and len(c4.stimulus_frame(real)) == 810
    for col in ("lambda_f", "lambda_h", "omega", "lambda_bar_h", "omega_bar"):
        assert real[col].between(0, 1).all(), col
    assert set(real.lambda_f.round(2)) == set(c4.LAMBDA_F_VALUES)
    assert (real.n_annotators >= 2).all() and np.isfinite(real[["H_a", "H_b"]]).all().all()
    summary = c4.lambda_h_by_lambda_f(real)
    assert summary.n.sum() == len(real) and (summary.q25 <= summary["median"]).all()


def test_real_statement_table_one_row_per_statement(real):
    for level in ("stimulus", "judgement"):
        t = c4.statement_tests(real, level=level)
        assert t.id.tolist() == list(c4.STATEMENTS) and t.id.is_unique
        assert np.isfinite(t.p_value).all() and np.isfinite(t.statistic).all()
        assert t.held.map(type).eq(bool).all()


def test_real_fig_4_3_examples_and_participants(real):
    ex = c4.example_relabellings(real)
    assert len(ex) == 3 and (ex.n_candidates >= 1).all()
    assert np.allclose(ex.lambda_bar_h_1 + ex.lambda_bar_h_2, 1)
    stats_ = c4.participant_statistics().set_index("quantity")
    assert stats_.loc["participants", "ours"] == "33" and stats_.loc["stimuli", "ours"] == "810 of 810"


def test_plots_return_figures(real):
    from matplotlib.figure import Figure

    from thesis_lib.data import load_cifar10_test, load_first_collection

    images = load_cifar10_test().images
    subset = real[real.stimulus.isin(real.stimulus.unique()[:60])]
    figs = [p4.stimuli_grid(images, load_first_collection(), n=4, ncols=2),
            p4.fig_4_2(subset),
            p4.fig_4_3(images, c4.example_relabellings(real)),
            p4.fig_4_4(c4.category_boundary(real)),
            p4.fig_4_5(c4.confidence_by_endpoint_entropy(real))]
    try:
        assert all(isinstance(f, Figure) for f in figs)
    finally:
        for f in figs:
            plt.close(f)


def test_jittered_figures_do_not_depend_on_what_ran_before(tmp_path):
    """Figs 4.2 and 4.5 jitter their points with NumPy's global generator (seaborn): fixed, the PNG is the same
    whatever state a cell before left, and that state is left as it was."""
    import hashlib

    frame = c4.relabel_frame()
    pngs = []
    for seed in (1, 2):
        np.random.seed(seed)
        before = np.random.get_state()[1].copy()
        fig = p4.fig_4_2(frame)
        fig.savefig(tmp_path / f"{seed}.png", dpi=50)
        plt.close(fig)
        pngs.append(hashlib.sha256((tmp_path / f"{seed}.png").read_bytes()).hexdigest())
        assert (np.random.get_state()[1] == before).all()
    assert pngs[0] == pngs[1]
