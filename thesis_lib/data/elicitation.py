"""One annotator's answer in the soft-label elicitation interface (thesis section 3.2, Fig. A.1), validated.

The interface asks for (1) the most probable class with a probability, (2) optionally a second class with a
probability, (3) every class the image is "definitely not". Probabilities are typed on a 0-100 scale and are
not forced to sum to 100. The same interface was used for CIFAR-10S and for the H-Mix soft labels (section 5.1),
so both are parsed here, from either the published JSON records or the raw jsPsych ``response`` strings.

Broken rows are **rejected** (and counted by kind):

* ``unknown_class``: a class name that is not one of the 10 CIFAR-10 classes;
* ``missing_top1``: no most-probable class;
* ``bad_probability``: a probability that is missing (for the first choice) or not a number (e.g. ``"8p"``);
* ``probability_out_of_range``: a probability outside 0-100.

Inconsistent rows are **kept** under these rules, each chosen to keep the annotator's evident intent, and
counted by kind:

* ``second_duplicates_first``: the second choice repeats the first class (mostly 100/100: the same judgement
  entered twice). The second choice is dropped; the first choice's probability stands.
* ``second_without_probability``: a second class with no probability. It carries no mass, so it is dropped as a
  choice, but the annotator evidently thought it possible, so it is never treated as impossible.
* ``probability_without_second``: a second probability with "No" second class. The probability is ignored.
* ``chosen_class_marked_impossible``: a class given a positive probability is also ticked "definitely not".
  The explicit probability wins: the class is removed from the impossible set.
* ``sum_exceeds_100``: the two probabilities add up past 100. They are rescaled proportionally to sum to 100
  (the normalisation of O'Hagan et al. that section 3.2 says is applied afterwards).

Two cases are only noted, since no value is changed: ``second_exceeds_first`` (the second choice got more
probability than the first) and ``leftover_without_possible_class`` (less than 100 was given but every other
class was ruled out; the label constructions then renormalise over the chosen classes).

The authors' released labels treat the inconsistent rows differently (a repeated second choice overwrites the
first probability; a chosen class ticked "definitely not" stays impossible). So that those rules can be applied
too (``rules="release"`` in :mod:`thesis_lib.labels.varieties`), every cleaned elicitation keeps the values as
typed, after validation but before the rules above, in :attr:`Elicitation.typed`, with the collection it came
from (``source``: ``"cifar10s"`` or ``"hmix"``, whose releases differ).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field, replace

import pandas as pd

from thesis_lib import CLASSES

_INDEX = {c: i for i, c in enumerate(CLASSES)}
NO_SECOND = "no"

REJECTIONS = ("unknown_class", "missing_top1", "bad_probability", "probability_out_of_range")
FIXES = ("second_duplicates_first", "second_without_probability", "probability_without_second",
         "chosen_class_marked_impossible", "sum_exceeds_100")
NOTES = ("second_exceeds_first", "leftover_without_possible_class")


SOURCES = ("cifar10s", "hmix")


class MalformedElicitation(ValueError):
    """A broken elicitation row; ``kind`` is one of :data:`REJECTIONS`."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(frozen=True)
class Typed:
    """An elicitation as typed (validated, no consistency rule applied): 0-100 probabilities, class indices.

    ``top2`` is None for "No" second class; ``p2`` is None when no second probability was given (or the second
    class was "No"). ``impossible`` may overlap the chosen classes and ``top2`` may repeat ``top1``."""

    top1: int
    p1: float
    top2: int | None
    p2: float | None
    impossible: frozenset[int]
    source: str = "cifar10s"


@dataclass(frozen=True)
class Elicitation:
    """A cleaned elicitation. Probabilities are on the interface's 0-100 scale; classes are indices.

    ``typed`` holds the values before the consistency rules (None for elicitations made in code, e.g. by the
    simulator, which are consistent by construction)."""

    top1: int
    p1: float
    top2: int | None = None
    p2: float = 0.0
    impossible: frozenset[int] = frozenset()
    notes: tuple[str, ...] = field(default=(), compare=False)
    typed: Typed | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.top2 is None and self.p2:
            raise ValueError("p2 given without a second class")

    @property
    def possible_others(self) -> frozenset[int]:
        """Classes the annotator neither chose nor ruled out (candidates for redistributed mass)."""
        chosen = {self.top1} | ({self.top2} if self.top2 is not None else set())
        return frozenset(range(len(CLASSES))) - chosen - self.impossible


def class_index(name) -> int:
    """Index of a class name, case-insensitively; raises :class:`MalformedElicitation` when unknown."""
    key = str(name).strip().lower() if name is not None else ""
    if key not in _INDEX:
        raise MalformedElicitation("unknown_class", f"{name!r} is not a CIFAR-10 class")
    return _INDEX[key]


def _probability(value, *, required: bool, what: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MalformedElicitation("bad_probability", f"{what} probability is missing")
        return None
    if isinstance(value, bool):
        raise MalformedElicitation("bad_probability", f"{what} probability {value!r} is not a number")
    try:
        p = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise MalformedElicitation("bad_probability", f"{what} probability {value!r} is not a number") from None
    if math.isnan(p):
        if required:
            raise MalformedElicitation("bad_probability", f"{what} probability is missing")
        return None
    if not 0.0 <= p <= 100.0:
        raise MalformedElicitation("probability_out_of_range", f"{what} probability {p} is outside 0-100")
    return p


def clean(top1, p1, top2, p2, impossible, source: str = "cifar10s") -> Elicitation:
    """Validate raw fields (names, 0-100 values as typed) and apply the documented rules.

    ``source`` names the collection (``"cifar10s"`` or ``"hmix"``); it is kept in :attr:`Elicitation.typed`."""
    if source not in SOURCES:
        raise ValueError(f"unknown elicitation source {source!r}; expected one of {', '.join(SOURCES)}")
    if top1 is None or (isinstance(top1, str) and not top1.strip()):
        raise MalformedElicitation("missing_top1", "no most probable class")
    c1 = class_index(top1)
    q1 = _probability(p1, required=True, what="first")
    no_second = top2 is None or str(top2).strip().lower() in (NO_SECOND, "")
    c2 = None if no_second else class_index(top2)
    q2 = _probability(p2, required=False, what="second")
    ruled_out = {class_index(c) for c in impossible}
    typed = Typed(c1, q1, c2, q2 if c2 is not None else None, frozenset(ruled_out), source)

    notes: list[str] = []
    if c2 is None and q2 is not None:
        notes.append("probability_without_second")
        q2 = None
    if c2 is not None and c2 == c1:
        notes.append("second_duplicates_first")
        c2, q2 = None, None
    if c2 is not None and q2 is None:
        notes.append("second_without_probability")
        ruled_out.discard(c2)            # evidently possible, though it carries no stated mass
        c2 = None
    chosen = {c: q for c, q in ((c1, q1), (c2, q2)) if c is not None and q}
    if ruled_out & chosen.keys():
        notes.append("chosen_class_marked_impossible")
        ruled_out -= chosen.keys()
    q2 = q2 or 0.0
    if q1 + q2 > 100.0:
        notes.append("sum_exceeds_100")
        scale = 100.0 / (q1 + q2)
        q1, q2 = q1 * scale, q2 * scale
    if q2 > q1:
        notes.append("second_exceeds_first")
    el = Elicitation(c1, q1, c2, q2 if c2 is not None else 0.0, frozenset(ruled_out), tuple(notes), typed)
    if q1 + q2 < 100.0 and not el.possible_others:
        el = replace(el, notes=el.notes + ("leftover_without_possible_class",))
    return el


def from_record(record: dict, source: str = "cifar10s") -> Elicitation:
    """Parse one published JSON record (keys "Most Probable Class", ..., "Impossible Class(es)")."""
    try:
        return clean(record.get("Most Probable Class"), record.get("Most Probable Class Prob"),
                     record.get("Second Most Probable Class"), record.get("Second Most Probable Class Prob"),
                     record.get("Impossible Class(es)") or [], source)
    except AttributeError:
        raise MalformedElicitation("missing_top1", f"record is not a mapping: {record!r}") from None


def from_response(response: str, source: str = "cifar10s") -> Elicitation:
    """Parse one raw jsPsych response string of the elicitation form (``classSelect``, ``prob``, ...)."""
    try:
        fields = json.loads(response)
    except (TypeError, json.JSONDecodeError):
        raise MalformedElicitation("missing_top1", f"response is not JSON: {response!r}") from None
    first = str(fields.get("classSelect") or "")
    second = str(fields.get("classSelect2") or "")
    top1 = first[len("mostProb"):] if first.startswith("mostProb") else None
    top2 = second[len("secondProb"):] if second.startswith("secondProb") else None
    impossible = [k[len("improbClassSelect"):] for k, v in fields.items()
                  if k.startswith("improbClassSelect") and str(v) not in ("0", "", "false")]
    return clean(top1, fields.get("prob"), top2, fields.get("prob2"), impossible, source)


@dataclass
class ElicitationReport:
    """What parsing did to a collection: rows read, kept, rejected by kind and fixed/noted by kind."""

    n_rows: int = 0
    rejected: Counter = field(default_factory=Counter)
    fixed: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)   # first offending row per kind, for the reader

    @property
    def n_kept(self) -> int:
        return self.n_rows - sum(self.rejected.values())

    def table(self) -> pd.DataFrame:
        rows = [("rejected", k, self.rejected.get(k, 0)) for k in REJECTIONS]
        rows += [("kept, fixed by rule", k, self.fixed.get(k, 0)) for k in FIXES]
        rows += [("kept, noted", k, self.fixed.get(k, 0)) for k in NOTES]
        return pd.DataFrame(rows, columns=["outcome", "kind", "count"])

    def __str__(self) -> str:
        parts = [f"{self.n_rows} rows, {self.n_kept} kept"]
        parts += [f"rejected {k}: {n}" for k, n in sorted(self.rejected.items())]
        parts += [f"{k}: {n}" for k, n in sorted(self.fixed.items())]
        return "; ".join(parts)


def parse_all(rows, parse, report: ElicitationReport | None = None):
    """Parse ``rows`` (an iterable of ``(key, raw)``) with ``parse``; returns ``({key: [Elicitation]}, report)``.

    Rejected rows are left out and counted; kept rows keep their order within a key.
    """
    report = report or ElicitationReport()
    out: dict = {}
    for key, raw in rows:
        report.n_rows += 1
        try:
            el = parse(raw)
        except MalformedElicitation as err:
            report.rejected[err.kind] += 1
            report.examples.setdefault(err.kind, (key, raw))
            continue
        for note in el.notes:
            report.fixed[note] += 1
            report.examples.setdefault(note, (key, raw))
        out.setdefault(key, []).append(el)
    return out, report
