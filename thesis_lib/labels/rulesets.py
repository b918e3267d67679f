"""How much the two label rule sets differ (``rules="thesis"`` vs ``rules="release"``,
:mod:`thesis_lib.labels.varieties`), per annotator label and after aggregation, for CIFAR-10S and H-Mix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from thesis_lib.data import load_cifar10s, load_hmix_soft_label_elicitations, registry
from thesis_lib.labels.aggregate import aggregate
from thesis_lib.labels.varieties import DEFAULT_GAMMA, annotator_labels

COLLECTIONS = ("CIFAR-10S", "H-Mix")
_TOL = 1e-9   # labels closer than this in L1 count as equal (float noise of the two constructions)


def _elicitations(collection: str) -> dict:
    if collection == "CIFAR-10S":
        return load_cifar10s().elicitations
    if collection == "H-Mix":
        return load_hmix_soft_label_elicitations().elicitations
    raise ValueError(f"unknown collection {collection!r}; expected one of {', '.join(COLLECTIONS)}")


def label_differences(collection: str = "CIFAR-10S", variety: str = "T2Clamp",
                      gamma: float = DEFAULT_GAMMA) -> pd.DataFrame:
    """One row per annotator label: key (image or stimulus), annotator, L1 distance between the thesis and the
    release construction, whether they differ, and the cleaning notes of the elicitation (why they differ)."""
    els = _elicitations(collection)
    thesis = annotator_labels(els, variety, gamma, rules="thesis")
    release = annotator_labels(els, variety, gamma, rules="release")
    rows = []
    for key, per in thesis.items():
        l1 = np.abs(per - release[key]).sum(1)
        for m, (d, el) in enumerate(zip(l1, els[key])):
            rows.append({"collection": collection, "key": key, "annotator": m, "l1": float(d),
                         "differs": bool(d > _TOL), "notes": ", ".join(el.notes)})
    return pd.DataFrame(rows)


def aggregated_differences(collection: str = "CIFAR-10S", variety: str = "T2Clamp",
                           gamma: float = DEFAULT_GAMMA) -> pd.Series:
    """Per image (or stimulus): L1 distance between the aggregated (Psi, mean) labels of the two rule sets."""
    els = _elicitations(collection)
    a = aggregate(annotator_labels(els, variety, gamma, rules="thesis"))
    b = aggregate(annotator_labels(els, variety, gamma, rules="release"))
    return pd.Series({k: float(np.abs(a[k] - b[k]).sum()) for k in a}, name="l1")


def summary(variety: str = "T2Clamp", gamma: float = DEFAULT_GAMMA) -> pd.DataFrame:
    """Per collection: labels and images that differ between the rule sets and by how much (L1, 0-2 scale)."""
    out = []
    for collection in COLLECTIONS:
        f = label_differences(collection, variety, gamma)
        agg = aggregated_differences(collection, variety, gamma)
        d = f[f.differs]
        out.append({"collection": collection, "labels": len(f), "labels differing": int(f.differs.sum()),
                    "images": f.key.nunique(), "images differing": d.key.nunique(),
                    "max L1 (label)": float(f.l1.max()),
                    "mean L1 over differing labels": float(d.l1.mean()) if len(d) else 0.0,
                    "mean L1 over all labels": float(f.l1.mean()),
                    "max L1 (aggregated label)": float(agg.max()), "mean L1 (aggregated label)": float(agg.mean())})
    return pd.DataFrame(out)


def differences_by_cause(collection: str = "CIFAR-10S", variety: str = "T2Clamp",
                         gamma: float = DEFAULT_GAMMA) -> pd.DataFrame:
    """The differing labels grouped by the cleaning notes of their elicitations (the rule that makes them differ;
    an empty note is an elicitation the thesis rules leave alone, e.g. a 0 % second choice or, for H-Mix,
    every full-mass elicitation with classes left possible)."""
    f = label_differences(collection, variety, gamma)
    d = f[f.differs].assign(notes=lambda x: x.notes.replace("", "(no cleaning note)"))
    return (d.groupby("notes").l1.agg(labels="size", mean_l1="mean", max_l1="max")
            .reset_index().sort_values("labels", ascending=False, ignore_index=True))


#: the authors' released per-annotator T2 Clamp (gamma = 0.1) labels, by collection: (repository, path). Not in
#: the data mirror; :func:`compare_with_released` reads a local copy when one is given or found.
RELEASED_FILES = {"CIFAR-10S": ("cambridge-mlg/cifar-10s", "cifar10s_data/cifar10s_t2clamp_redist10.json"),
                  "H-Mix": ("cambridge-mlg/hill-mixup", "h_mix/hmix_individ_soft_labels.json")}


def released_path(collection: str):
    """A local copy of the collection's released label file: ``$THESIS_RELEASED_LABELS/<file name>`` or the data
    mirror's ``cifar10s/`` / ``hmix/`` folder; None when there is none."""


    name = Path(RELEASED_FILES[collection][1]).name
    candidates = []
    if os.environ.get("THESIS_RELEASED_LABELS"):
        candidates.append(Path(os.environ["THESIS_RELEASED_LABELS"]) / name)
    mirror = registry.mirror_dir()
    if mirror:
        candidates.append(Path(mirror) / ("cifar10s" if collection == "CIFAR-10S" else "hmix") / name)
    return next((p for p in candidates if p.is_file()), None)


def match_released(ours: dict, released: dict, atol: float = 1e-6) -> pd.DataFrame:
    """Per key of ``released`` (``{key: list of 10-vectors}``): how many of its labels one of ``ours[key]``
    reproduces. The two files list an image's annotators in different orders, so labels are matched as a multiset
    (each of ours used once)."""
    rows = []
    for key, labels in released.items():
        mine = [np.asarray(x, float) for x in ours.get(key, [])]
        matched = 0
        for lab in np.asarray(labels, float):
            hit = next((k for k, x in enumerate(mine) if np.allclose(x, lab, atol=atol)), None)
            if hit is not None:
                matched += 1
                mine.pop(hit)
        rows.append({"key": key, "released": len(labels), "ours": len(ours.get(key, [])), "matched": matched})
    return pd.DataFrame(rows)


def compare_with_released(collection: str, path=None, rules: str = "release") -> pd.DataFrame:
    """:func:`match_released` of our T2 Clamp labels (gamma 0.1, ``rules``) against the released file."""

    path = Path(path) if path else released_path(collection)
    if path is None:
        raise FileNotFoundError(f"no local copy of {RELEASED_FILES[collection][1]} ({RELEASED_FILES[collection][0]}); "
                                "set THESIS_RELEASED_LABELS to the folder holding it")
    released = json.loads(path.read_text())
    ours = annotator_labels(_elicitations(collection), "T2Clamp", DEFAULT_GAMMA, rules=rules)
    if collection == "CIFAR-10S":
        released = {int(k): v for k, v in released.items()}
    return match_released(ours, released)
