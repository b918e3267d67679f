"""Loaders against the real data (the mirror named by THESIS_DATA_DIR)."""

import numpy as np
import pytest

from thesis_lib import CLASSES, data, labels
from thesis_lib.data import DataError


def test_cifar10_test_set_and_provenance():
    c = data.load_cifar10_test()
    images, lbls, provenance = c
    assert images.shape == (10000, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(lbls).tolist() == [1000] * 10
    assert provenance.source in ("official", "mirror_reconstruction")
    assert provenance.n_exact == int(c.exact_mask.sum())
    if provenance.source == "mirror_reconstruction":
        assert provenance.n_exact == 2375 and "JPEG" in provenance.detail
    # CIFAR-10H's majority vote agrees with the CIFAR-10 labels on ~99 % of images (a wrong order would not)
    assert (data.load_cifar10h_probs().argmax(1) == lbls).mean() > 0.98


def test_corrupted_mirror_file_fails_with_its_name(mirror_copy):
    target = mirror_copy("cifar10h/cifar10h-counts.npy")
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="cifar10h-counts.npy") as err:
        data.load_cifar10h_counts()
    assert "Checksum mismatch" in str(err.value) and "Fix" in str(err.value)


def test_missing_mirror_file_fails_with_its_name_and_fix(mirror_copy):
    target = mirror_copy("cifar10s/human_soft_labels_data.json")
    target.unlink()
    with pytest.raises(DataError, match="human_soft_labels_data.json") as err:
        data.load_cifar10s()
    assert "github.com/cambridge-mlg/cifar-10s" in str(err.value)


def test_mirror_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("THESIS_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="not a directory"):
        data.locate("cifar10h/cifar10h-probs.npy")


def test_cifar10s_elicitations():
    c = data.load_cifar10s()
    assert len(c.indices) == 1000 and c.n_annotators == 248
    assert min(len(v) for v in c.elicitations.values()) >= 6
    assert c.report.n_kept == c.report.n_rows == sum(len(v) for v in c.elicitations.values())
    assert set(c.indices) <= set(data.load_uma_split().train)
    assert len(c.trials) == c.report.n_rows and (c.trials.rt_s > 0).all()


def test_cifar10s_annotator_labels_api():
    lab = labels.cifar10s_annotator_labels(variety="T2Clamp", gamma=0.1)
    assert len(lab) == 1000 and all(isinstance(k, int) for k in lab)
    for k, v in list(lab.items())[:50]:
        assert v.ndim == 2 and v.shape[1] == 10 and v.shape[0] >= 6
        np.testing.assert_allclose(v.sum(1), 1.0)


def test_holdout_is_seeded_and_resampled_per_seed():
    idx = data.load_cifar10s().indices
    a, b, c = data.cifar10s_holdout(idx, 0), data.cifar10s_holdout(idx, 0), data.cifar10s_holdout(idx, 1)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 100 and set(a) <= set(idx) and not np.array_equal(a, c)


def test_hmix_first_collection_and_inferences():
    stimuli = data.load_first_collection()
    assert len(stimuli) == 810
    pairs = {tuple(sorted((s.class_a, s.class_b))) for s in stimuli}
    assert len(pairs) == 45
    df = data.load_hmix_inferences()
    assert set(df.stimulus) == {s.name for s in stimuli}
    assert df.groupby("stimulus").size().min() >= 2  # at least two participants saw each image
    assert df.lambda_h.between(0, 1).all() and df.omega.between(0, 1).all()


def test_hmix_soft_labels_and_pixel_mixing():
    lab = labels.hmix_annotator_labels(variety="T2Clamp", gamma=0.1)
    assert len(lab) == 100 and all(k.startswith("mixed_") for k in lab)
    s = data.parse_stimulus(next(iter(lab)))
    images = data.load_cifar10_test().images
    mixed = data.mix_images(images, [s])[0]
    np.testing.assert_allclose(mixed, s.lambda_f * images[s.idx_a] + (1 - s.lambda_f) * images[s.idx_b].astype(np.float32),
                               rtol=1e-6)
    with pytest.raises(ValueError):
        data.parse_stimulus("mixed_0.5_Cat_1_Lion_2.png")


def test_glove_vectors():
    kv = data.load_glove()
    assert set(CLASSES) <= set(kv.key_to_index)
    assert kv.similarity("cat", "dog") == pytest.approx(0.9218, abs=1e-3)   # the mirror's recorded check
    assert kv.similarity("cat", "dog") > kv.similarity("cat", "ship")
    # the similarity matrix training uses is gensim's similarity, computed without gensim
    sim = data.class_similarity()
    expected = [[kv.similarity(a, b) for b in CLASSES] for a in CLASSES]
    np.testing.assert_allclose(sim, expected, atol=1e-6)


def test_simulator_fit_and_sample():
    c = data.load_cifar10s()
    probs = data.load_cifar10h_probs()
    sim = labels.SoftLabelSimulator.fit(c.elicitations, probs, data.class_similarity())
    # the fitted top-1 Beta reproduces the humans' mean top-1 probability
    a, b = sim.high.top1_beta
    h = data.entropy(probs)
    human = np.mean([e.p1 / 100 for i in c.indices if h[i] > 0.25 for e in c.elicitations[i]])
    assert a / (a + b) == pytest.approx(human, abs=1e-9)
    x = sim.simulate(probs[:300], seed=0)
    np.testing.assert_allclose(x.sum(1), 1)
    np.testing.assert_array_equal(x, sim.simulate(probs[:300], seed=0))
    # the hard label is drawn from CIFAR-10H, so the simulated top class mostly agrees with its majority
    assert (x.argmax(1) == probs[:300].argmax(1)).mean() > 0.8
    # the simulated elicitations become labels under the simulator's rule set; the same draws either way
    release = labels.SoftLabelSimulator.fit(c.elicitations, probs, data.class_similarity(), rules="release")
    assert sim.rules == "thesis" and release.rules == "release" and release.high.top1_beta == sim.high.top1_beta
    y = release.simulate(probs[:300], seed=0)
    np.testing.assert_allclose(y.sum(1), 1)
    assert (y.argmax(1) == x.argmax(1)).mean() > 0.95
    with pytest.raises(ValueError, match="unknown label rule set"):
        labels.SoftLabelSimulator.fit(c.elicitations, probs, data.class_similarity(), rules="authors")
