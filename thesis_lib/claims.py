"""The thesis's textual claims, checked one by one against our tables: held, not held, or not run.

Each claim reads the tidy tables written by :mod:`thesis_lib.tables` (group, row, metric, ours, ...). Lower is
better for every metric. A claim holds when its comparison of *our means* holds; with one seed there is no
interval, so at the quick profile a claim is only a point comparison. Every claim is also checked against the
thesis's own numbers by the tests (it must hold there, or it is not the thesis's claim).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

HELD, NOT_HELD, NOT_RUN = "held", "not held", "not run at this profile"


class Missing(LookupError):
    """A cell the claim needs is not in the tables (the table was not run)."""


@dataclass(frozen=True)
class Claim:
    table: str
    text: str
    check: Callable[["Cells"], bool]


class Cells:
    """Look-up of our mean for (table, group, row, metric); ``column`` picks ``ours`` or ``thesis``."""

    def __init__(self, frames: dict[str, pd.DataFrame], column: str = "ours"):
        self.frames, self.column = frames, column

    def __call__(self, table: str, row: str, metric: str = "CE", group: str = "CIFAR-10H") -> float:
        frame = self.frames.get(table)
        if frame is None:
            raise Missing(table)
        hit = frame[(frame.group == group) & (frame.row == row) & (frame.metric == metric)]
        if hit.empty:
            raise Missing(f"{table}: {group} / {row} / {metric}")
        return float(hit.iloc[0][self.column])


def _lt(table, a, b, metric="CE", groups=("CIFAR-10H",)):
    return lambda c: all(c(table, a, metric, g) < c(table, b, metric, g) for g in groups)


def _best(table, row, rows, metric="CE", group="CIFAR-10H"):
    return lambda c: all(c(table, row, metric, group) < c(table, r, metric, group) for r in rows if r != row)


BOTH = ("CIFAR-10H", "CIFAR-10S")
OURS = "Ours (T2, Clamp)"
_VARIETIES = ("T1, Unif (12.8s)", "T1, Clamp (19.2s)", "T2, Unif (25.6s)", "T2, Clamp (32s)")
_43 = ("mixup Labels", "Ours (Agg, mean lambda_h)", "Ours (Sep, lambda_h^m)",
       "Ours (Agg, mean lambda_h with mean omega)", "Ours (Sep, lambda_h^m with omega_m)")
_51 = ("mixup", "Mix-MaxEnt", "Ours (Ent-WC)")

CLAIMS: tuple[Claim, ...] = (
    Claim("3.1", "Soft labels beat hard labels: CIFAR-10H and ours both have lower CE than hard labels (both evaluation sets)",
          lambda c: all(c("3.1", r, "CE", g) < c("3.1", "Hard Labels", "CE", g) for r in ("CIFAR-10H", OURS) for g in BOTH)),
    Claim("3.1", "Aggregated, our labels do not outperform CIFAR-10H: CIFAR-10H has the lower CE (both evaluation sets)",
          _lt("3.1", "CIFAR-10H", OURS, groups=BOTH)),
    Claim("3.2", "De-aggregated T2 Clamp beats CIFAR-10H on CE on both evaluation sets",
          _lt("3.2", OURS, "CIFAR-10H", groups=BOTH)),
    Claim("3.2", "De-aggregated T2 Clamp beats CIFAR-10H on calibration on both evaluation sets",
          _lt("3.2", OURS, "CIFAR-10H", "Calibration", BOTH)),
    Claim("3.3", "With a single annotator (M = 1) our labels beat CIFAR-10H on CE and FGSM loss (both evaluation sets)",
          lambda c: all(c("3.3", "Ours", m, g) < c("3.3", "CIFAR-10H", m, g)
                        for m in ("CE (M=1)", "FGSM Loss (M=1)") for g in BOTH)),
    Claim("3.3", "With M = 2 our labels beat CIFAR-10H on CE (both evaluation sets)",
          _lt("3.3", "Ours", "CIFAR-10H", "CE (M=2)", BOTH)),
    Claim("3.4", "The full elicitation (T2, Clamp) gives the best CE of the four varieties (both evaluation sets)",
          lambda c: all(_best("3.4", "T2, Clamp (32s)", _VARIETIES, "CE", g)(c) for g in BOTH)),
    Claim("3.4", "Clamp beats Unif for T1 on CIFAR-10H CE: the 'definitely not' answers help",
          _lt("3.4", "T1, Clamp (19.2s)", "T1, Unif (12.8s)")),
    Claim("B.1", "Label smoothing is better calibrated than both human label sets on CIFAR-10H",
          lambda c: all(c("B.1", "Label Smoothing", "Calibration") < c("B.1", r, "Calibration") for r in ("CIFAR-10H", OURS))),
    Claim("B.1", "On CIFAR-10S, label smoothing has a higher CE than our labels",
          lambda c: c("B.1", "Label Smoothing", "CE", "CIFAR-10S") > c("B.1", OURS, "CE", "CIFAR-10S")),
    Claim("B.2", "For T1, semantic redistribution lowers the FGSM loss against uniform (both evaluation sets)",
          _lt("B.2", "Semantic", "Uniform", "FGSM Loss", BOTH)),
    Claim("B.3", "For T2, semantic redistribution lowers CE against uniform on CIFAR-10H",
          _lt("B.3", "Semantic", "Uniform")),
    Claim("4.1", "mixup labels and Agg both beat uniform and random labels on CE",
          lambda c: all(c("4.1", a) < c("4.1", b) for a in ("+ mixup Labels", "Ours (Agg, mean lambda_h)")
                        for b in ("+ Uniform Labels", "+ Random Labels"))),
    Claim("4.1", "Agg has a higher CE than mixup labels", _lt("4.1", "+ mixup Labels", "Ours (Agg, mean lambda_h)")),
    Claim("4.2", "Sep < mixup labels < Agg on CE",
          lambda c: c("4.2", "Ours (Sep, lambda_h^m)") < c("4.2", "mixup Labels") < c("4.2", "Ours (Agg, mean lambda_h)")),
    Claim("4.3", "Sep with each annotator's confidence has the best CE, calibration and FGSM loss",
          lambda c: all(_best("4.3", "Ours (Sep, lambda_h^m with omega_m)", _43, m)(c)
                        for m in ("CE", "Calibration", "FGSM Loss"))),
    Claim("4.3", "Confidence smoothing improves Agg's CE", _lt("4.3", "Ours (Agg, mean lambda_h with mean omega)",
                                                              "Ours (Agg, mean lambda_h)")),
    Claim("5.1", "Ent-WC has the best FGSM loss", _best("5.1", "Ours (Ent-WC)", _51, "FGSM Loss")),
    Claim("5.1", "Mix-MaxEnt has the best calibration and corruption CE",
          lambda c: all(_best("5.1", "Mix-MaxEnt", _51, m)(c) for m in ("Calibration", "Corruption CE"))),
    Claim("5.2", "Soft endpoints improve mixup's CE and corruption CE",
          lambda c: all(c("5.2", "mixup, Ours (Soft)", m) < c("5.2", "mixup, Hard", m) for m in ("CE", "Corruption CE"))),
    Claim("C.1", "tau mixing with Ent-WC has the best CE", _best("C.1", "tau mixing, Ent-WC", (
        "mixup, no Ent-WC", "tau mixing, no Ent-WC", "mixup, Ent-WC", "tau mixing, Ent-WC"))),
)


def check(frames: dict[str, pd.DataFrame], column: str = "ours") -> pd.DataFrame:
    """Every claim's verdict: held / not held / not run at this profile."""
    cells = Cells(frames, column)
    rows = []
    for claim in CLAIMS:
        try:
            verdict = HELD if claim.check(cells) else NOT_HELD
        except Missing:
            verdict = NOT_RUN
        rows.append({"table": claim.table, "claim": claim.text, "verdict": verdict})
    return pd.DataFrame(rows)
