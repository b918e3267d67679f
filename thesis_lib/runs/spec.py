"""A training run, fully specified: every field that can change a result is here, so an identical
configuration always hashes to the same key and a changed one never does."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace

from thesis_lib.core import profiles
from thesis_lib.core.catalogue import HYP
from thesis_lib.data import image_source
from thesis_lib.labels import RULES
from thesis_lib.models import MODEL_NAMES
from thesis_lib.runs.chapters import chapter_module

#: Bump when the meaning of a field or the training code changes in a way that alters results.
#: 2: issue 14 (calibration bins per evaluation set, Ent-WC weight with gradient, M = 6 CIFAR-10S annotators and
#: evaluation label, real CIFAR-10S soft endpoints, different-class Mix-MaxEnt, host-seeded mixup lambdas).
#: 3: issue 20 (each run's order, crops, flips and annotator picks drawn once per epoch, thesis_lib.training.loop.epoch_draws,
#: so the single-run loop and the captured multi-run step consume one stream; no full-profile run existed).
CACHE_VERSION = 3

CHAPTER_PROTOCOL = {3: "chapter3", 4: "mixup", 5: "mixup"}
#: The chapters whose labels are built from soft-label elicitations, so under a label rule set (``rules``);
#: Chapter 4's come from lambda_h, so its specs keep the default.
RULES_CHAPTERS = (3, 5)


@dataclass(frozen=True)
class RunSpec:
    chapter: int
    label_method: str
    model: str
    seed: int
    profile: str
    protocol: str
    epochs: int
    batch_size: int
    lr: float
    milestones: tuple[int, ...]
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: float = 0.1
    grad_clip: float | None = None
    augment: bool = False
    # label construction (chapter 3 and appendix B)
    gamma: float = HYP["gamma"]        # redistribution factor of the Clamp varieties
    annotators: int | None = None      # M: annotators per image (None: all)
    deaggregate: bool = False          # draw one annotator's label per image per batch
    beta: float = 0.0                  # label smoothing
    n_soft: int | None = None          # N': train on only this many soft-labelled images (Fig. 3.6)
    rules: str = "thesis"              # label rule set: "thesis" (section 3.2.2) or "release" (the authors' labels)
    # data and evaluation
    images: str = "unknown"            # image provenance: official | mirror_reconstruction
    train_subset: int | None = None
    eval_subset: int | None = None
    validation: bool = False           # hold out validation images from training and evaluate on them only
    fgsm_eps: float = HYP["fgsm_eps"]
    # free-form settings of later chapters (mixup policies, losses), as sorted (name, value) pairs
    extra: tuple = field(default=())
    cache_version: int = CACHE_VERSION

    def __post_init__(self):
        check_spec(self)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["milestones"] = list(self.milestones)
        d["extra"] = [list(p) for p in self.extra]
        return d

    @property
    def key(self) -> str:
        blob = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def label(self) -> str:
        bits = [self.label_method]
        if self.annotators:
            bits.append(f"M={self.annotators}")
        if self.deaggregate:
            bits.append("deagg")
        if self.beta:
            bits.append(f"beta={self.beta:g}")
        if self.n_soft:
            bits.append(f"N'={self.n_soft}")
        return f"ch{self.chapter} {' '.join(bits)} {self.model} seed={self.seed} [{self.profile}]"


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_spec(spec: "RunSpec") -> None:
    """Refuse, with a ``ValueError`` naming the field, any value that would train something other than asked
    (``annotators=0`` silently meaning all annotators, ``epochs=0`` an untrained model, a NaN learning rate...).
    The one place the label method (against its chapter's module, :mod:`thesis_lib.runs.chapters`) and the label
    rule set ``rules`` are checked: whatever builds or runs a spec relies on it. No check changes a key."""
    def bad(name, want):
        raise ValueError(f"RunSpec {name}={getattr(spec, name)!r} is invalid: {want}")

    if spec.chapter not in CHAPTER_PROTOCOL:
        bad("chapter", f"expected one of {sorted(CHAPTER_PROTOCOL)}")
    if spec.profile not in profiles.PROFILES:
        bad("profile", f"expected one of {', '.join(profiles.PROFILES)}")
    for name in ("label_method", "model", "protocol", "images"):
        if not isinstance(getattr(spec, name), str) or not getattr(spec, name):
            bad(name, "expected a non-empty name")
    if not _is_int(spec.seed) or spec.seed < 0:
        bad("seed", "expected an integer >= 0")
    for name in ("epochs", "batch_size"):
        if not _is_int(getattr(spec, name)) or getattr(spec, name) < 1:
            bad(name, "expected an integer >= 1 (0 would cache an untrained model's metrics)" if name == "epochs"
                else "expected an integer >= 1")
    for name in ("annotators", "n_soft", "train_subset", "eval_subset"):
        v = getattr(spec, name)
        if v is not None and (not _is_int(v) or v < 1):
            bad(name, "expected an integer >= 1, or None for all" +
                (" (0 does not mean all annotators: leave it unset)" if name == "annotators" else ""))
    if not isinstance(spec.milestones, tuple) or not all(_is_int(m) and m >= 0 for m in spec.milestones):
        bad("milestones", "expected a tuple of integers >= 0")
    if not _is_real(spec.lr) or spec.lr <= 0:
        bad("lr", "expected a finite number > 0")
    for name, lo, hi in (("momentum", 0, 1), ("gamma", 0, 1), ("beta", 0, 1), ("lr_decay", 0, 1)):
        v = getattr(spec, name)
        if not _is_real(v) or not lo <= v <= hi:
            bad(name, f"expected a number in [{lo}, {hi}]")
    for name in ("weight_decay", "fgsm_eps"):
        if not _is_real(getattr(spec, name)) or getattr(spec, name) < 0:
            bad(name, "expected a finite number >= 0")
    if spec.grad_clip is not None and (not _is_real(spec.grad_clip) or spec.grad_clip <= 0):
        bad("grad_clip", "expected a finite number > 0, or None")
    if not isinstance(spec.extra, tuple):
        bad("extra", "expected a tuple of (name, value) pairs")
    if spec.rules not in RULES:
        bad("rules", f"unknown label rule set; expected one of {', '.join(map(repr, RULES))}")
    if spec.rules != "thesis" and spec.chapter not in RULES_CHAPTERS:
        bad("rules", f"Chapter {spec.chapter}'s labels are not built from elicitations, so no rule set applies: "
                     "leave it 'thesis'")
    chapter_module(spec.chapter).check_label_method(spec.label_method)


def make_spec(chapter: int, label_method: str, model: str | None = None, seed: int = 0, profile: str = "smoke",
              images: str | None = None, **overrides) -> RunSpec:
    """A spec with the profile's protocol filled in; ``overrides`` change any field (e.g. ``epochs=2``)."""
    if chapter not in CHAPTER_PROTOCOL:
        raise ValueError(f"unknown chapter {chapter!r}; expected one of {sorted(CHAPTER_PROTOCOL)}")
    protocol = CHAPTER_PROTOCOL[chapter]
    ps = getattr(profiles.settings(profile), protocol)
    model = model or ps.models[0]
    if model not in MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}; valid names are: {', '.join(MODEL_NAMES)}")
    if images is None:
        images = image_source()
    spec = RunSpec(chapter=chapter, label_method=label_method, model=model, seed=int(seed), profile=profile,
                   protocol=protocol, epochs=ps.epochs, batch_size=ps.batch_size, lr=ps.lr.get(model, 0.1),
                   milestones=tuple(ps.milestones), momentum=ps.momentum, weight_decay=ps.weight_decay,
                   lr_decay=ps.lr_decay, grad_clip=ps.grad_clip, augment=ps.augment, images=images,
                   train_subset=ps.train_subset, eval_subset=ps.eval_subset)
    unknown = set(overrides) - set(spec.as_dict())
    if unknown:
        raise ValueError(f"unknown RunSpec field(s) {sorted(unknown)}")
    if "extra" in overrides and isinstance(overrides["extra"], dict):
        overrides["extra"] = tuple(sorted(overrides["extra"].items()))
    elif "extra" in overrides and isinstance(overrides["extra"], list):
        overrides["extra"] = tuple(tuple(p) if isinstance(p, list) else p for p in overrides["extra"])
    if "milestones" in overrides:
        overrides["milestones"] = tuple(overrides["milestones"])
    return replace(spec, **overrides)


def unique_specs(specs) -> list[RunSpec]:
    """``specs`` with each run key once, in first-seen order (a grid's tables and figures share runs)."""
    return list({s.key: s for s in specs}.values())
