"""Tables of results beside the thesis's: each cell is the mean ± 95 % t-interval over the runs of a row
(seeds, and models where a table averages several), with the published value, the difference and whether the
published value lies inside our interval. Written as ``results/tables/table_<id>.csv`` and ``.md``, each
stating its profile and image provenance."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from thesis_lib.core import atomic, catalogue
from thesis_lib.core.summary import mean_ci
from thesis_lib.reporting import recompute
from thesis_lib.reporting.render import ALL_BINS, AUTHORS, display, symbols, table_body
from thesis_lib.runs.grid import Grid, Row

EVAL_SETS = {"cifar10h": "CIFAR-10H", "cifar10s": "CIFAR-10S"}
#: Cell name -> the record's (or the recomputed) metric. "Calibration" is the authors' statistic (their adaptive bins,
#: last bin dropped), as the thesis's cells were made, so it is the one set beside the thesis; "Calibration, all
#: bins" is the correct statistic beside it (:mod:`thesis_lib.reporting.recompute`).
METRICS = {"CE": "ce", AUTHORS: "calibration_authors", ALL_BINS: "calibration",
           "FGSM Loss": "fgsm_loss", "Corruption CE": "corruption_ce", "Accuracy": "accuracy"}


def summarise(table: str, rows: list[Row], records: dict[str, dict]) -> pd.DataFrame:
    """Tidy frame: group, row, metric, ours, ours_ci, n, n_seeds, thesis, thesis_ci, difference, thesis_in_ci.

    ``n`` counts the runs pooled into the cell (models x seeds), ``n_seeds`` the distinct seeds among them.

    ``records`` maps run keys to cached results (:func:`thesis_lib.runs.run.run_records`). Both calibration cells
    are recomputed from each run's kept evaluation outputs (:func:`thesis_lib.reporting.recompute.recomputed`); a
    run without them (an older record) has only its stored all-bins value, and then its row has no "Calibration"
    cell (the authors' statistic) rather than a wrong one."""
    pub = catalogue.published(table) if table in catalogue.TABLES else pd.DataFrame(
        columns=["group", "row", "metric", "mean", "ci"])
    pub = pub.set_index(["group", "row", "metric"])
    out = []
    for row in rows:
        runs = [records[s.key] for s in row.specs]
        for es in row.eval_sets:
            group = EVAL_SETS[es]
            per_run = [{**r["metrics"][es], **recompute.recomputed(s, r, es)} for s, r in zip(row.specs, runs)]
            for metric, field_ in METRICS.items():
                values = [m.get(field_) for m in per_run]
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
                            "n": len(values), "n_seeds": len({r["spec"]["seed"] for r in runs}), "thesis": t_mean,
                            "thesis_ci": t_ci, "difference": mean - t_mean, "thesis_in_ci": inside})
    return pd.DataFrame(out)


def provenance(records: list[dict]) -> dict:
    profiles = sorted({r["profile"] for r in records})
    images = sorted({r["image_provenance"]["source"] for r in records})
    models = sorted({r["spec"]["model"] for r in records})
    epochs = sorted({r["spec"]["epochs"] for r in records if "epochs" in r["spec"]})
    seeds = sorted({r["spec"]["seed"] for r in records})
    devices = sorted({r["device"] for r in records})
    rules = sorted({r["spec"].get("rules", "thesis") for r in records})   # records older than the field: thesis
    return {"profile": ", ".join(profiles), "images": ", ".join(images), "models": ", ".join(models),
            "rules": ", ".join(rules), "epochs": ", ".join(map(str, epochs)),
            "runs": len({r.get("key") or id(r) for r in records}),
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
    """``table_<id>.csv`` (tidy, with profile and provenance columns: the protocol actually run, i.e. models,
    epochs, seeds and the number of distinct runs, for the report's captions) and ``table_<id>.md`` (wide,
    readable)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prov = provenance(records)
    stem = "table_" + table.replace(".", "_")
    with atomic.atomic_path(out / f"{stem}.csv") as tmp:
        frame.assign(profile=prov["profile"], images=prov["images"], rules=prov["rules"], models=prov["models"],
                     epochs=prov["epochs"], seeds=prov["seeds"], runs=prov["runs"]).to_csv(tmp, index=False)
    atomic.write_text(out / f"{stem}.md", markdown(table, frame, prov, title))
    return out / f"{stem}.csv"


def markdown(table: str, frame: pd.DataFrame, prov: dict, title: str = "") -> str:
    """The table as the report shows it (:func:`thesis_lib.reporting.render.table_body`): wide, each cell ours ± CI /
    thesis, the protocol that ran beside the thesis's; plus the compute it took."""
    cap = title or (catalogue.caption(table) if table in catalogue.TABLES else "")
    compute = f"Compute: {prov['gpu_hours']:.2f} device-hours on {prov['devices']}."
    lines = [f"### Table {table}. {symbols(cap)}", ""]
    if frame.empty:
        return "\n".join(lines + [f"Profile: **{prov['profile']}** · images: {prov['images']} · label rules: "
                                  f"{prov['rules']}", "", "(no runs)"]) + "\n"
    full = frame.assign(**{k: prov[k] for k in ("profile", "images", "rules", "models", "epochs", "seeds", "runs")
                           if k in prov})
    return "\n".join(lines + table_body(table, full) + [compute]) + "\n"


def show_cell(ours, thesis) -> str:
    """A notebook cell ``ours / thesis``; a value that is missing (no thesis value, no run) reads ``–``, as in
    the report, never ``nan``."""
    def text(v, fmt):
        return "–" if v is None or pd.isna(v) else format(float(v), fmt)

    return f"{text(ours, '.3f')} / {text(thesis, 'g')}"


def show(table: str, rows: Grid | list[Row], records: dict[str, dict], out_dir: str | Path, title: str = "", *,
         label: str = "labels", by_group: bool = False) -> pd.DataFrame:
    """A notebook's one call per table: summarise ``rows`` (a grid's rows of ``table``, or the rows;
    :func:`summarise`), write the table (:func:`write`),
    display each row's cells as ``ours / thesis`` beside the thesis (one column per metric; ``label`` heads the
    row names; ``by_group``: one line per evaluation set and row) and return the tidy frame."""
    rows = rows.tables[table] if isinstance(rows, Grid) else rows
    frame = summarise(table, rows, records)
    write(table, frame, [records[s.key] for r in rows for s in r.specs], out_dir, title)
    lines = []
    for key, grp in frame.groupby(["group", "row"] if by_group else "row", sort=False):
        head = {"evaluation": key[0], label: key[1]} if by_group else {label: key}
        lines.append({**head, **{m: show_cell(x.ours, x.thesis) for m, x in grp.set_index("metric").iterrows()}})
    display(pd.DataFrame(lines))
    return frame
