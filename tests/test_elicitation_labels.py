"""Label varieties on hand-made elicitations, with answers worked out by hand in the comments."""

import json

import numpy as np
import pytest

from thesis_lib import CLASSES
from thesis_lib.data.elicitation import (ElicitationReport, MalformedElicitation, clean, from_record, from_response,
                                         parse_all)
from thesis_lib.labels import VARIETIES, parse_variety, soft_label

C = {c: i for i, c in enumerate(CLASSES)}


def vec(**mass):
    v = np.zeros(10)
    for name, m in mass.items():
        v[C[name]] = m
    return v


def test_partial_mass_with_exclusions():
    # truck 40 %, automobile 30 %, ruled out: bird cat deer dog frog horse -> possible others: airplane, ship
    el = clean("Truck", 40, "Automobile", 30, ["Bird", "Cat", "Deer", "Dog", "Frog", "Horse"])
    # T1 Uniform: 0.6 left over the 9 other classes
    exp = np.full(10, 0.6 / 9)
    exp[C["truck"]] = 0.4
    np.testing.assert_allclose(soft_label(el, "T1Uniform"), exp)
    # T1 Clamp: 0.6 over airplane, automobile, ship (T1 ignores the second choice; it was not ruled out)
    np.testing.assert_allclose(soft_label(el, "T1Clamp"), vec(truck=0.4, airplane=0.2, automobile=0.2, ship=0.2))
    # T2 Uniform: 0.3 over the 8 unchosen classes
    exp = np.full(10, 0.3 / 8)
    exp[C["truck"]], exp[C["automobile"]] = 0.4, 0.3
    np.testing.assert_allclose(soft_label(el, "T2Uniform"), exp)
    # T2 Clamp: 0.3 over airplane and ship
    np.testing.assert_allclose(soft_label(el, "T2Clamp"), vec(truck=0.4, automobile=0.3, airplane=0.15, ship=0.15))


def test_full_mass_but_only_some_classes_ruled_out_keeps_gamma():
    # cat 70 + dog 30 = 100 %, ruled out airplane automobile ship truck frog -> bird, deer, horse still possible
    el = clean("Cat", 70, "Dog", 30, ["Airplane", "Automobile", "Ship", "Truck", "Frog"])
    # T2 Clamp, gamma 0.1: stated mass scaled by 0.9, 0.1 spread over the three possible classes
    np.testing.assert_allclose(soft_label(el, "T2Clamp", gamma=0.1),
                               vec(cat=0.63, dog=0.27, bird=0.1 / 3, deer=0.1 / 3, horse=0.1 / 3))
    # gamma 0.2 doubles the share of the possible classes
    np.testing.assert_allclose(soft_label(el, "T2Clamp", gamma=0.2),
                               vec(cat=0.56, dog=0.24, bird=0.2 / 3, deer=0.2 / 3, horse=0.2 / 3))
    # Uniform ignores "definitely not" and so has no gamma: nothing is left to spread
    np.testing.assert_allclose(soft_label(el, "T2Uniform"), vec(cat=0.7, dog=0.3))
    # T1 Clamp: 0.3 left after cat over dog, bird, deer, horse
    np.testing.assert_allclose(soft_label(el, "T1Clamp"), vec(cat=0.7, dog=0.075, bird=0.075, deer=0.075, horse=0.075))


def test_certain_annotators():
    # 100 % on one class and everything else ruled out: one-hot for every variety
    el = clean("Ship", 100, "No", None, [c for c in CLASSES if c != "ship"])
    for v in ("T1Uniform", "T1Clamp", "T2Uniform", "T2Clamp"):
        np.testing.assert_allclose(soft_label(el, v), vec(ship=1.0))
    # 100 % but nothing ruled out: Clamp keeps gamma for the 9 others
    el = clean("Ship", 100, None, None, [])
    exp = np.full(10, 0.1 / 9)
    exp[C["ship"]] = 0.9
    np.testing.assert_allclose(soft_label(el, "T2Clamp"), exp)


def test_leftover_with_nowhere_to_go_is_renormalised():
    # deer 60 %, horse 20 %, everything else ruled out: 0.2 cannot be placed, so renormalise 0.6 : 0.2
    el = clean("Deer", 60, "Horse", 20, [c for c in CLASSES if c not in ("deer", "horse")])
    assert "leftover_without_possible_class" in el.notes
    np.testing.assert_allclose(soft_label(el, "T2Clamp"), vec(deer=0.75, horse=0.25))


def test_semantic_redistribution_follows_similarity():
    sim = np.eye(10)
    sim[C["cat"], C["dog"]] = 0.9
    sim[C["cat"], C["deer"]] = 0.3
    sim[C["cat"], C["ship"]] = -0.5  # negative similarity gets nothing
    el = clean("Cat", 60, None, None, [])
    # 0.4 left, split 0.9 : 0.3 between dog and deer
    np.testing.assert_allclose(soft_label(el, "T1Semantic", similarity=sim), vec(cat=0.6, dog=0.3, deer=0.1))
    with pytest.raises(ValueError, match="similarity"):
        soft_label(el, "T1Semantic")


def test_every_variety_sums_to_one_on_random_elicitations():
    rng = np.random.default_rng(0)
    sim = np.abs(rng.normal(size=(10, 10)))
    for _ in range(300):
        a, b = rng.choice(10, 2, replace=False)
        p1 = float(rng.integers(0, 101))
        p2 = float(rng.integers(0, 101)) if rng.random() < 0.6 else None
        ruled = [CLASSES[k] for k in range(10) if rng.random() < 0.5]
        el = clean(CLASSES[a], p1, CLASSES[b] if p2 is not None else None, p2, ruled)
        for v in VARIETIES:
            lab = soft_label(el, v, gamma=float(rng.uniform(0, 0.5)), similarity=sim)
            assert lab.min() >= 0 and abs(lab.sum() - 1) < 1e-12, (el, v)


def test_inconsistent_rows_follow_the_documented_rules():
    el = clean("Cat", 100, "Cat", 100, ["Dog"])
    assert el.top2 is None and el.p1 == 100 and "second_duplicates_first" in el.notes
    el = clean("Horse", 60, "Deer", 36, ["Deer", "Bird", "Horse", "Dog"])
    assert "chosen_class_marked_impossible" in el.notes and el.impossible == {C["bird"], C["dog"]}
    el = clean("Cat", 95, "Dog", 10, [])
    assert "sum_exceeds_100" in el.notes and el.p1 + el.p2 == pytest.approx(100) and el.p1 / el.p2 == pytest.approx(9.5)
    el = clean("Dog", 85, "Cat", None, ["Cat", "Frog"])
    assert el.top2 is None and "second_without_probability" in el.notes and C["cat"] not in el.impossible
    el = clean("Deer", 100, "No", 100, [])
    assert el.top2 is None and el.p2 == 0 and "probability_without_second" in el.notes
    el = clean("Cat", 20, "Dog", 40, [])
    assert el.top1 == C["cat"] and "second_exceeds_first" in el.notes  # noted, kept as given


@pytest.mark.parametrize("fields, kind", [
    (("Airplane", "8p", "Automobile", 20, []), "bad_probability"),
    (("Airplane", None, None, None, []), "bad_probability"),
    (("Airplane", 120, None, None, []), "probability_out_of_range"),
    (("Airplane", 80, "Automobile", -5, []), "probability_out_of_range"),
    (("Zebra", 80, None, None, []), "unknown_class"),
    (("Cat", 80, "Lion", 10, []), "unknown_class"),
    (("Cat", 80, None, None, ["Unicorn"]), "unknown_class"),
    ((None, 80, None, None, []), "missing_top1"),
])
def test_broken_rows_are_rejected(fields, kind):
    with pytest.raises(MalformedElicitation) as err:
        clean(*fields)
    assert err.value.kind == kind


def test_parse_all_counts_rejections_and_fixes_by_kind():
    rows = [
        (1, {"Most Probable Class": "Cat", "Most Probable Class Prob": 90.0, "Second Most Probable Class": "Dog",
             "Second Most Probable Class Prob": 20.0, "Impossible Class(es)": []}),
        (1, {"Most Probable Class": "Cat", "Most Probable Class Prob": "8p", "Second Most Probable Class": "No",
             "Second Most Probable Class Prob": None, "Impossible Class(es)": []}),
        (2, {"Most Probable Class": "Lion", "Most Probable Class Prob": 90.0, "Second Most Probable Class": "No",
             "Second Most Probable Class Prob": None, "Impossible Class(es)": []}),
        (2, {"Most Probable Class": "Dog", "Most Probable Class Prob": 100.0, "Second Most Probable Class": "Dog",
             "Second Most Probable Class Prob": 100.0, "Impossible Class(es)": []}),
    ]
    out, report = parse_all(rows, from_record)
    assert isinstance(report, ElicitationReport)
    assert report.n_rows == 4 and report.n_kept == 2
    assert report.rejected == {"bad_probability": 1, "unknown_class": 1}
    assert report.fixed["sum_exceeds_100"] == 1 and report.fixed["second_duplicates_first"] == 1
    assert [len(out[k]) for k in (1, 2)] == [1, 1]
    table = report.table()
    assert table.set_index("kind").loc["unknown_class", "count"] == 1


def test_raw_interface_responses_parse_like_records():
    response = json.dumps({"classSelect": "mostProbShip", "prob": "75", "classSelect2": "secondProbTruck",
                           "prob2": "25", "improbClassSelectFrog": "1", "improbClassSelectBird": "1"})
    el = from_response(response)
    assert (el.top1, el.p1, el.top2, el.p2) == (C["ship"], 75.0, C["truck"], 25.0)
    assert el.impossible == {C["frog"], C["bird"]}
    no_second = json.dumps({"classSelect": "mostProbDeer", "prob": "100", "classSelect2": "secondProbNo", "prob2": ""})
    assert from_response(no_second).top2 is None
    with pytest.raises(MalformedElicitation):
        from_response(json.dumps({"classSelect": "mostProbDeer", "prob": "8p", "classSelect2": "secondProbNo"}))


def test_variety_names():
    assert parse_variety("T2Clamp") == (True, "Clamp")
    assert parse_variety("T1, Unif") == (False, "Uniform")
    with pytest.raises(ValueError, match="unknown label variety"):
        parse_variety("T3Clamp")
    with pytest.raises(ValueError, match="gamma"):
        soft_label(clean("Cat", 50, None, None, []), "T2Clamp", gamma=1.5)
