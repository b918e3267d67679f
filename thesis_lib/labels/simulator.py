"""The soft-label simulator of appendix B.5: turns a hard label into a CIFAR-10S-like T2 Clamp soft label.

Fit, separately for low- and high-entropy images (CIFAR-10H entropy, section 3.2.1: low H <= 0.1, high H > 0.25):

* a Beta distribution of the top-1 probabilities the annotators gave,
* a Beta distribution of the top-2 probabilities (over elicitations that named a second class),
* the histogram of K_p, the number of alternative classes left possible (not ticked "definitely not").

Sample, for a hard label y and an image entropy H (routed to the low band when H <= 0.1, else high):

1. top-1 = y, with probability p1 ~ Beta_top1;
2. rank the other classes by GloVe cosine similarity to y (appendix B.4);
3. draw K_p from the histogram and keep the K_p most similar classes as possible, rule out the rest;
4. if K_p >= 1, put p2 ~ Beta_top2 on the most similar class;
5. spread what is left over the other possible classes: the resulting elicitation is turned into a label by the
   very T2 Clamp construction used for human elicitations (so sums past 100 and gamma are treated alike), under
   the simulator's label rule set ``rules`` (``"thesis"`` or ``"release"``, :mod:`thesis_lib.labels.varieties`;
   the release rules read the sampled values as typed). The Beta and K_p fits read the cleaned elicitations under
   either rule set.

The Beta distributions are fitted by the method of moments (closed form: with mean m and variance v,
c = m(1 - m)/v - 1, a = mc, b = (1 - m)c): about 40 % of top-1 answers are exactly 100 %, where a
maximum-likelihood fit on the open interval is undefined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from thesis_lib import CLASSES, NUM_CLASSES
from thesis_lib.data.cifar10h import entropy
from thesis_lib.data.elicitation import Elicitation, clean
from thesis_lib.labels.varieties import DEFAULT_GAMMA, check_rules, soft_label

LOW_ENTROPY_MAX = 0.1
HIGH_ENTROPY_MIN = 0.25


@dataclass(frozen=True)
class BandFit:
    top1_beta: tuple[float, float]
    top2_beta: tuple[float, float]
    kp_hist: np.ndarray          # (10,) probabilities of K_p = 0..9
    n_elicitations: int


def _beta_mm(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2 or x.var() == 0:
        raise ValueError("need at least two distinct probabilities to fit a Beta distribution")
    m, v = x.mean(), x.var()
    c = m * (1.0 - m) / v - 1.0
    if c <= 0:
        raise ValueError("variance too large for a Beta distribution")
    return float(m * c), float((1.0 - m) * c)


def fit_band(elicitations: list[Elicitation]) -> BandFit:
    top1 = np.array([e.p1 for e in elicitations]) / 100.0
    top2 = np.array([e.p2 for e in elicitations if e.top2 is not None]) / 100.0
    kp = np.array([NUM_CLASSES - 1 - len(e.impossible - {e.top1}) for e in elicitations])
    hist = np.bincount(kp, minlength=NUM_CLASSES)[:NUM_CLASSES].astype(np.float64)
    return BandFit(_beta_mm(top1), _beta_mm(top2), hist / hist.sum(), len(elicitations))


@dataclass(frozen=True)
class SoftLabelSimulator:
    low: BandFit
    high: BandFit
    similarity: np.ndarray        # (10, 10) class-name cosine similarity
    gamma: float = DEFAULT_GAMMA
    rules: str = "thesis"         # the label rule set that turns a sampled elicitation into a label

    @classmethod
    def fit(cls, elicitations: dict[int, list[Elicitation]], cifar10h_probs: np.ndarray, similarity: np.ndarray,
            gamma: float = DEFAULT_GAMMA, rules: str = "thesis") -> "SoftLabelSimulator":
        """Fit on ``{test index: [Elicitation]}`` with bands from the CIFAR-10H entropy of each image; the
        simulated labels are built under ``rules``."""
        check_rules(rules)

        low, high = [], []
        for idx, els in elicitations.items():
            h = entropy(cifar10h_probs[idx])
            if h <= LOW_ENTROPY_MAX:
                low.extend(els)
            elif h > HIGH_ENTROPY_MIN:
                high.extend(els)
        if not low or not high:
            raise ValueError("the fit needs elicitations of both low- and high-entropy images")
        return cls(fit_band(low), fit_band(high), np.asarray(similarity), gamma, rules)

    def band(self, entropy: float) -> BandFit:
        return self.low if entropy <= LOW_ENTROPY_MAX else self.high

    def sample_elicitation(self, hard_label: int, entropy: float, rng: np.random.Generator) -> Elicitation:
        fit = self.band(entropy)
        p1 = rng.beta(*fit.top1_beta)
        others = [k for k in np.argsort(-self.similarity[hard_label], kind="stable") if k != hard_label]
        k_p = int(rng.choice(NUM_CLASSES, p=fit.kp_hist))
        possible, ruled_out = others[:k_p], others[k_p:]
        top2, p2 = (CLASSES[possible[0]], 100.0 * rng.beta(*fit.top2_beta)) if k_p >= 1 else (None, None)
        return clean(CLASSES[hard_label], 100.0 * p1, top2, p2, [CLASSES[k] for k in ruled_out])

    def sample(self, hard_label: int, entropy: float, rng: np.random.Generator) -> np.ndarray:
        """One simulated (10,) T2 Clamp soft label."""
        return soft_label(self.sample_elicitation(hard_label, entropy, rng), "T2Clamp", self.gamma, rules=self.rules)

    def simulate(self, cifar10h_probs_rows: np.ndarray, seed: int) -> np.ndarray:
        """Simulated labels for images given their CIFAR-10H distributions: the hard label is sampled from the
        CIFAR-10H label and the band routed by its entropy, as appendix B.5 describes. Returns (N, 10)."""
        rng = np.random.default_rng(seed)
        probs = np.asarray(cifar10h_probs_rows, dtype=np.float64)
        out = np.empty_like(probs)
        for i, p in enumerate(probs):
            y = int(rng.choice(NUM_CLASSES, p=p / p.sum()))
            out[i] = self.sample(y, float(entropy(p)), rng)
        return out
