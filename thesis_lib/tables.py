"""Tables of results beside the thesis's: each cell is the mean ± 95 % t-interval over the runs of a row
(seeds, and models where a table averages several), with the published value, the difference and whether the
published value lies inside our interval. Written as ``results/tables/table_<id>.csv`` and ``.md``, each
stating its profile and image provenance."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from thesis_lib import atomic, reference
from thesis_lib.runspec import RunSpec
from thesis_lib.summary import format_ci, mean_ci

EVAL_SETS = {"cifar10h": "CIFAR-10H", "cifar10s": "CIFAR-10S"}
METRICS = {"CE": "ce", "Calibration": "calibration", "FGSM Loss": "fgsm_loss", "Corruption CE": "corruption_ce",
           "Accuracy": "accuracy"}


@dataclass(frozen=True)
class Row:
    """One table row: its label as the thesis prints it, and the runs averaged into it. ``suffix`` names the
    column block (e.g. ``" (M=2)"`` in Table 3.3, where one printed row spans two settings)."""

    label: str
    specs: tuple[RunSpec, ...]
    suffix: str = ""
    eval_sets: tuple[str, ...] = field(default=("cifar10h", "cifar10s"))


def summarise(table: str, rows: list[Row], records: dict[str, dict]) -> pd.DataFrame:
    """Tidy frame: group, row, metric, ours, ours_ci, n, thesis, thesis_ci, difference, thesis_in_ci.

    ``records`` maps run keys to cached results (:func:`thesis_lib.run.run_grid`)."""
    pub = reference.published(table) if table in reference.TABLES else pd.DataFrame(
        columns=["group", "row", "metric", "mean", "ci"])
    pub = pub.set_index(["group", "row", "metric"])
    out = []
    for row in rows:
        runs = [records[s.key] for s in row.specs]
        for es in row.eval_sets:
            group = EVAL_SETS[es]
            for metric, field_ in METRICS.items():
                values = [r["metrics"][es].get(field_) for r in runs]
                if any(v is None for v in values):
                    continue
                name = metric + row.suffix
                # cells the thesis does not report (accuracy, added baselines) are kept with an empty thesis value
                thesis = pub.loc[(group, row.label, name)] if (group, row.label, name) in pub.index else None
                mean, half = mean_ci(values)
                t_mean = float(thesis["mean"]) if thesis is not None else math.nan
                t_ci = float(thesis["ci"]) if thesis is not None else math.nan
                inside = (abs(t_mean - mean) <= half) if thesis is not None and not math.isnan(half) else None
                out.append({"group": group, "row": row.label, "metric": name, "ours": mean, "ours_ci": half,
                            "n": len(values), "thesis": t_mean, "thesis_ci": t_ci, "difference": mean - t_mean,
                            "thesis_in_ci": inside})
    return pd.DataFrame(out)


def provenance(records: list[dict]) -> dict:
    profiles = sorted({r["profile"] for r in records})
    images = sorted({r["image_provenance"]["source"] for r in records})
    models = sorted({r["spec"]["model"] for r in records})
    seeds = sorted({r["spec"]["seed"] for r in records})
    devices = sorted({r["device"] for r in records})
    rules = sorted({r["spec"].get("rules", "thesis") for r in records})   # records older than the field: thesis
    return {"profile": ", ".join(profiles), "images": ", ".join(images), "models": ", ".join(models),
            "rules": ", ".join(rules),
            "seeds": ", ".join(map(str, seeds)), "devices": "; ".join(devices),
            "gpu_hours": device_hours(records)}


def device_hours(records: list[dict]) -> float:
    """Device time the runs used: each run's wall time times its share of the device (1 / N for N runs sharing it
    through ``--jobs N``, the GPU fraction on Ray); records from before shares were recorded count whole."""
    return sum(r["wall_time_s"] * r.get("device_share", 1.0) for r in records) / 3600


def write_csv(frame: pd.DataFrame, path: str | Path, **kw) -> Path:
    """``frame.to_csv(path)`` written atomically (a temporary file renamed), ``index=False`` unless given."""
    kw.setdefault("index", False)
    with atomic.atomic_path(path) as tmp:
        frame.to_csv(tmp, **kw)
    return Path(path)


def write(table: str, frame: pd.DataFrame, records: list[dict], out_dir: str | Path, title: str = "") -> Path:
    """``table_<id>.csv`` (tidy, with profile and provenance columns) and ``table_<id>.md`` (wide, readable)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prov = provenance(records)
    stem = "table_" + table.replace(".", "_")
    with atomic.atomic_path(out / f"{stem}.csv") as tmp:
        frame.assign(profile=prov["profile"], images=prov["images"], rules=prov["rules"]).to_csv(tmp, index=False)
    atomic.write_text(out / f"{stem}.md", markdown(table, frame, prov, title))
    return out / f"{stem}.csv"


def markdown(table: str, frame: pd.DataFrame, prov: dict, title: str = "") -> str:
    cap = title or (reference.caption(table) if table in reference.TABLES else "")
    lines = [f"### Table {table}. {cap}", "",
             f"Profile: **{prov['profile']}** · images: **{prov['images']}** · models: {prov['models']} · "
             f"seeds: {prov['seeds']} · label rules: {prov['rules']} · "
             f"compute: {prov['gpu_hours']:.2f} device-hours on {prov['devices']}", "",
             "Each cell: ours (mean ± 95 % CI over runs) / thesis. ✓ = thesis value inside our interval.", ""]
    if frame.empty:
        return "\n".join(lines + ["(no runs)"]) + "\n"
    metrics = list(dict.fromkeys(frame.metric))
    lines.append("| evaluation | labels | " + " | ".join(metrics) + " |")
    lines.append("|---|---|" + "---|" * len(metrics))
    order = {g: i for i, g in enumerate(dict.fromkeys(frame.group))}
    frame = frame.sort_values("group", key=lambda c: c.map(order), kind="stable")
    for (group, row), g in frame.groupby(["group", "row"], sort=False):
        cells = []
        for m in metrics:
            hit = g[g.metric == m]
            if hit.empty:
                cells.append("")
                continue
            r = hit.iloc[0]
            ours = format_ci(r.ours, r.ours_ci)
            theirs = "–" if math.isnan(r.thesis) else f"{r.thesis:g} ± {r.thesis_ci:g}"
            mark = " ✓" if r.thesis_in_ci is True else ""
            cells.append(f"{ours} / {theirs}{mark}")
        lines.append(f"| {group} | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
