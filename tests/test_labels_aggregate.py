import numpy as np
import pytest

from thesis_lib.labels import (cifar10h_annotator_labels, draw_from_pool, hard_labels, label_smoothing, pad_pool, psi,
                               random_labels, subsample_annotators, uniform_labels)


def _pool():
    rng = np.random.default_rng(1)
    return {k: rng.dirichlet(np.ones(10), size=m) for k, m in [(5, 6), (2, 7), (9, 8)]}


def test_psi_is_the_mean_over_annotators():
    labels = np.array([[1.0] + [0] * 9, [0.5, 0.5] + [0] * 8])
    np.testing.assert_allclose(psi(labels), [0.75, 0.25] + [0] * 8)
    with pytest.raises(ValueError):
        psi(np.zeros((0, 10)))


def test_subsampling_is_seeded_without_replacement():
    pool = _pool()
    a, b = subsample_annotators(pool, 2, seed=3), subsample_annotators(pool, 2, seed=3)
    for k in pool:
        np.testing.assert_array_equal(a[k], b[k])
        assert len(a[k]) == 2 and len({row.tobytes() for row in a[k]}) == 2
        assert all(any(np.array_equal(r, p) for p in pool[k]) for r in a[k])
    c = subsample_annotators(pool, 2, seed=4)
    assert any(not np.array_equal(a[k], c[k]) for k in pool)
    with pytest.raises(ValueError, match="fewer"):
        subsample_annotators(pool, 7, seed=0)


def test_cifar10h_votes_are_drawn_from_the_counts():
    counts = np.zeros((3, 10), dtype=int)
    counts[0, [1, 2]] = [3, 2]
    counts[2, 4] = 5
    allv = cifar10h_annotator_labels(counts, [0, 2])
    np.testing.assert_array_equal(allv[0].sum(0), counts[0])
    two = cifar10h_annotator_labels(counts, [0, 2], m=2, seed=7)
    again = cifar10h_annotator_labels(counts, [0, 2], m=2, seed=7)
    np.testing.assert_array_equal(two[0], again[0])
    assert two[0].shape == (2, 10) and (two[0].sum(0) <= counts[0]).all()
    np.testing.assert_array_equal(two[2].sum(0), [0, 0, 0, 0, 2, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError):
        cifar10h_annotator_labels(counts, [0], m=6)


def test_pool_draws_one_annotator_per_image():
    pool = _pool()
    keys = sorted(pool)
    arr, counts = pad_pool(pool, keys)
    assert arr.shape == (3, 8, 10) and list(counts) == [7, 6, 8]
    rng = np.random.default_rng(0)
    seen = {k: set() for k in keys}
    for _ in range(400):
        drawn = draw_from_pool(arr, counts, rng)
        for i, k in enumerate(keys):
            match = [j for j, row in enumerate(pool[k]) if np.allclose(row, drawn[i])]
            assert match, "a drawn label must be one of the image's own annotators"
            seen[k].add(match[0])
    assert all(len(seen[k]) == len(pool[k]) for k in keys), "every annotator is drawn eventually"


def test_baselines():
    np.testing.assert_array_equal(hard_labels([2, 0])[0], np.eye(10)[2])
    np.testing.assert_allclose(uniform_labels(3), 0.1)
    r = random_labels(5, seed=1)
    np.testing.assert_allclose(r.sum(1), 1)
    np.testing.assert_array_equal(r, random_labels(5, seed=1))
    assert not np.array_equal(r, random_labels(5, seed=2))
    ls = label_smoothing([3], beta=0.1)
    assert ls[0, 3] == pytest.approx(0.91) and ls[0, 0] == pytest.approx(0.01)
    with pytest.raises(ValueError):
        label_smoothing([3], beta=1.5)
