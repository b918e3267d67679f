"""Provenance sensitivity: does the offline CIFAR-10 reconstruction move a table's numbers?

Offline, the CIFAR-10 test images come from the mirror's reconstruction (:mod:`thesis_lib.data.cifar10`): its
``exact_mask`` marks the pixel-exact images (292 of the 3,000 CIFAR-10H evaluation images; 999 of the 1,000
CIFAR-10S images), the rest are JPEG-recompressed copies. For every table, each headline metric is recomputed from
the runs' kept outputs (:mod:`thesis_lib.reporting.recompute`) on the pixel-exact evaluation images alone and set
beside its value on all of them:

* **values**: the mean over the table's runs (each distinct run once) of the metric on all the images, and on the
  exact ones alone;
* **difference**: exact - all. For the two calibration errors the reference is instead the mean over random
  subsets of all the images of the exact subset's size (``all_matched``), since a binned calibration error grows
  as the set shrinks (each bin's gap carries sampling noise); for CE and FGSM loss (means over images) that
  reference is the all-images value itself. A subset's calibration uses the bin size the thesis's code gives a set
  of that size (:func:`thesis_lib.training.metrics.calibration_bin_size`);
* **95 % interval**: a paired bootstrap over runs and images. Each of ``n_boot`` replicates resamples the table's
  runs with replacement and, for every group of runs evaluated on the same images, resamples those images with
  replacement within the exact and within the recompressed ones (the same draw for every run of the group, so the
  runs' shared image effects stay paired); the interval is the 2.5 and 97.5 percentiles of the replicates'
  differences, re-centred on the estimate (shifted by the estimate minus the replicates' mean). The re-centring
  matters for calibration only: a resample of the exact images repeats some of them, which inflates a binned
  calibration error (its bins hold fewer distinct images) by an amount the size-matched reference, drawn from all
  the images, does not share; for the means it changes nothing. The reference of each replicate is the mean over
  :data:`SUBSETS_PER_REPLICATE` size-matched subsets. Chosen over a t-interval over seeds because it also works at
  one seed, and the images, not the seeds, are what the question is about.

An interval that excludes 0 says the exact images score differently from the whole set: the reconstruction moves
the metric, or the exact images are not like the others (in the 3,000 they are the test images among the first
1,017 of the test set, in effect a random draw). With the official archive every image is exact and there is
nothing to compare (:func:`report_section` says so). Corruption CE (Chapter 5) is not recomputed: the runs keep no
outputs on the corrupted images.

A chapter notebook calls :func:`show` once (its tables' rows and records); it writes ``provenance_<table>.csv``
beside the tables, which :func:`report_section` gathers into the report.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from thesis_lib import data
from thesis_lib.runs.grid import Grid, Row
from thesis_lib.core import atomic
from thesis_lib.reporting.recompute import EvalOutputs, eval_outputs
from thesis_lib.reporting.render import display
from thesis_lib.training.metrics import calibration_bin_size

EVAL_SETS = {"cifar10h": "CIFAR-10H", "cifar10s": "CIFAR-10S"}
#: Metric name (as the tables name it) -> how it is computed from per-image outputs.
HEADLINE = {"CE": "ce", "Calibration": "calibration_authors", "Calibration, all bins": "calibration",
            "FGSM Loss": "fgsm"}
CALIBRATION = {"calibration_authors": True, "calibration": False}     # field -> drop the last bin
N_BOOT = 1000
#: Size-matched subsets averaged into the calibration reference of each bootstrap replicate.
SUBSETS_PER_REPLICATE = 4
COLUMNS = ["table", "group", "metric", "runs", "n_all", "n_exact", "all", "all_matched", "exact", "difference",
           "ci_low", "ci_high", "n_boot", "images", "note"]
ALL_EXACT = "every evaluation image is pixel-exact"


# ---------------------------------------------------------------------------------------------------------------
# Metrics of many image draws at once
# ---------------------------------------------------------------------------------------------------------------


def _bin_size(n: int) -> int:
    return calibration_bin_size(n)


def batched_calibration(confidence: np.ndarray, correct: np.ndarray, bin_size: int, drop_last: bool) -> np.ndarray:
    """The RMS calibration error of every row of (B, n) ``confidence`` / ``correct`` at once: the adaptive bins of
    :func:`thesis_lib.training.metrics.rms_calibration_error` (``drop_last=False``) or of the authors'
    :func:`~thesis_lib.training.metrics.rms_calibration_error_authors` (``drop_last=True``); one value per row."""
    conf = np.asarray(confidence, dtype=np.float64)
    corr = np.asarray(correct, dtype=np.float64)
    if conf.ndim != 2 or conf.shape != corr.shape or conf.shape[1] == 0:
        raise ValueError(f"confidence and correct must be equal (B, n) arrays with n > 0, got {conf.shape}, "
                         f"{corr.shape}")
    order = np.argsort(conf, axis=1, kind="stable")
    conf, corr = np.take_along_axis(conf, order, 1), np.take_along_axis(corr, order, 1)
    n = conf.shape[1]
    n_bins = max(1, n // bin_size)
    starts = np.arange(n_bins) * bin_size
    ends = np.append(starts[1:], n)                      # the last bin absorbs the remainder
    zero = np.zeros((conf.shape[0], 1))
    cum_conf, cum_corr = np.hstack([zero, conf.cumsum(1)]), np.hstack([zero, corr.cumsum(1)])
    size = (ends - starts).astype(np.float64)
    gap = (cum_conf[:, ends] - cum_conf[:, starts] - cum_corr[:, ends] + cum_corr[:, starts]) / size
    squared = size / n * gap ** 2
    if drop_last:
        squared = squared[:, :-1]
    return np.sqrt(squared.sum(1))


def _metric(out: EvalOutputs, field: str, positions: np.ndarray) -> np.ndarray:
    """``field`` of ``out`` on each row of (B, k) image ``positions`` (indices into the run's images)."""
    if field in CALIBRATION:
        return batched_calibration(out.confidence[positions], out.correct[positions], _bin_size(positions.shape[1]),
                                   CALIBRATION[field])
    values = out.ce if field == "ce" else out.fgsm
    return values[positions].mean(1)


def _random_subsets(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    """Each row of (B, n) ``pool``: ``k`` of its entries drawn without replacement."""
    pick = np.argsort(rng.random(pool.shape), axis=1)[:, :k]
    return np.take_along_axis(pool, pick, 1)


# ---------------------------------------------------------------------------------------------------------------
# One table
# ---------------------------------------------------------------------------------------------------------------


def _exact_mask(source: str) -> np.ndarray | None:
    """The pixel-exact mask over the 10,000 test images for records of image ``source``: all True for the official
    archive; the reconstruction's own mask when the active data source is that reconstruction; else None."""
    if source == "official":
        return np.ones(10000, dtype=bool)

    test = data.load_cifar10_test()
    return test.exact_mask if test.provenance.source == source else None


def sensitivity(outputs: list[EvalOutputs], exact: list[np.ndarray], *, n_boot: int = N_BOOT, seed: int = 0,
                fields=tuple(HEADLINE.values())) -> dict[str, dict]:
    """The exact-vs-all comparison of one evaluation set over runs: ``outputs[u]`` is run u's per-image outputs and
    ``exact[u]`` its per-image pixel-exact mask. Returns, per field, ``{"all", "all_matched", "exact", "difference",
    "ci_low", "ci_high", "runs", "n_all", "n_exact"}`` (see the module's docstring for the estimator and the
    bootstrap); a field some run lacks (FGSM loss not evaluated) is left out. Needs at least two pixel-exact images
    per run; a run whose images are all exact differs by exactly 0."""
    if not outputs or len(outputs) != len(exact):
        raise ValueError("need one exact mask per run, and at least one run")
    rng = np.random.default_rng(seed)
    groups: dict[bytes, list[int]] = {}
    for u, out in enumerate(outputs):
        groups.setdefault(out.idx.tobytes() + np.asarray(exact[u], dtype=bool).tobytes(), []).append(u)
    fields = [f for f in fields if f != "fgsm" or all(o.fgsm is not None for o in outputs)]
    observed = {f: np.zeros((len(outputs), 3)) for f in fields}           # all, all_matched, exact per run
    boot = {f: np.zeros((len(outputs), n_boot)) for f in fields}          # difference per run and replicate
    for members in groups.values():
        mask = np.asarray(exact[members[0]], dtype=bool)
        ex, rec = np.flatnonzero(mask), np.flatnonzero(~mask)
        if len(ex) < 2:
            raise ValueError(f"need at least 2 pixel-exact images, got {len(ex)}")
        everything = np.arange(len(mask))[None, :]
        if len(rec) == 0:                          # all exact: the exact images are all of them
            for u in members:
                for f in fields:
                    whole = _metric(outputs[u], f, everything)[0]
                    observed[f][u] = whole, whole, whole
            continue
        matched = _random_subsets(rng, np.repeat(everything, n_boot, 0), len(ex))   # observed size-matched reference
        ex_star = ex[rng.integers(0, len(ex), (n_boot, len(ex)))]
        all_star = np.hstack([ex_star, rec[rng.integers(0, len(rec), (n_boot, len(rec)))]])
        matched_star = _random_subsets(rng, np.repeat(all_star, SUBSETS_PER_REPLICATE, 0), len(ex))
        for u in members:
            out = outputs[u]
            for f in fields:
                whole = _metric(out, f, everything)[0]
                exact_value = _metric(out, f, ex[None, :])[0]
                if f in CALIBRATION:
                    reference = _metric(out, f, matched).mean()
                    reference_star = _metric(out, f, matched_star).reshape(n_boot, SUBSETS_PER_REPLICATE).mean(1)
                    boot[f][u] = _metric(out, f, ex_star) - reference_star
                else:
                    reference = whole
                    boot[f][u] = _metric(out, f, ex_star) - _metric(out, f, all_star)
                observed[f][u] = whole, reference, exact_value
    runs_star = rng.integers(0, len(outputs), (n_boot, len(outputs)))      # the runs, resampled
    n_exact = [int(np.sum(m)) for m in exact]
    result = {}
    for f in fields:
        mean = observed[f].mean(0)
        diffs = np.take_along_axis(boot[f].T, runs_star, 1).mean(1)
        difference = mean[2] - mean[1]
        lo, hi = difference + np.percentile(diffs, [2.5, 97.5]) - diffs.mean()     # re-centred on the estimate
        result[f] = {"all": mean[0], "all_matched": mean[1], "exact": mean[2], "difference": difference,
                     "ci_low": float(lo), "ci_high": float(hi), "runs": len(outputs),
                     "n_all": float(np.mean([len(o.idx) for o in outputs])), "n_exact": float(np.mean(n_exact))}
    return result


def table_sensitivity(table: str, rows: list[Row], records: dict[str, dict], *, n_boot: int = N_BOOT,
                      seed: int = 0, runs_root=None) -> pd.DataFrame:
    """One table's frame (:data:`COLUMNS`): per evaluation set and headline metric, the values on all and on the
    pixel-exact images, the difference and its 95 % interval, pooled over the table's distinct runs. A set whose
    images are all exact, or whose runs kept no outputs, gets one row saying so in ``note``."""
    specs = {}
    for row in rows:
        for s in row.specs:
            specs.setdefault(s.key, (s, row.eval_sets))
    sets = list(dict.fromkeys(es for row in rows for es in row.eval_sets))
    out = []
    for es in sets:
        group = EVAL_SETS.get(es, es)
        runs, masks, notes = [], [], set()
        sources = set()
        for key, (spec, row_sets) in specs.items():
            if es not in row_sets:
                continue
            record = records[key]
            source = record.get("image_provenance", {}).get("source", "?")
            sources.add(source)
            kept = eval_outputs(spec, record, es, runs_root)
            mask = _exact_mask(source)
            if kept is None:
                notes.add("runs without kept outputs left out")
                continue
            if mask is None:
                notes.add(f"runs on images {source!r} left out (not the active data source, so their exact images "
                          "are unknown)")
                continue
            runs.append(kept)
            masks.append(mask[kept.idx])
        base = {"table": table, "group": group, "images": ", ".join(sorted(sources)), "n_boot": n_boot}
        if not runs:
            out.append({**base, "metric": "", "runs": 0, "note": "; ".join(sorted(notes)) or "no runs"})
            continue
        if all(m.all() for m in masks):
            out.append({**base, "metric": "", "runs": len(runs), "note": ALL_EXACT,
                        "n_all": float(np.mean([len(r.idx) for r in runs])),
                        "n_exact": float(np.mean([m.sum() for m in masks]))})
            continue
        try:
            found = sensitivity(runs, masks, n_boot=n_boot, seed=seed)
        except ValueError as err:
            out.append({**base, "metric": "", "runs": len(runs), "note": str(err)})
            continue
        for name, field in HEADLINE.items():
            if field in found:
                out.append({**base, "metric": name, **found[field], "note": "; ".join(sorted(notes))})
    return pd.DataFrame(out, columns=COLUMNS)


# ---------------------------------------------------------------------------------------------------------------
# A notebook's one call, and the report's section
# ---------------------------------------------------------------------------------------------------------------


def csv_path(out_dir, table: str) -> Path:
    return Path(out_dir) / f"provenance_{table.replace('.', '_')}.csv"


def _interval(r, bold: bool = True) -> str:
    if any(_missing(r.get(c)) for c in ("difference", "ci_low", "ci_high")):
        return ""
    text = f"{r['difference']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"
    if not (r["ci_low"] > 0 or r["ci_high"] < 0):
        return text
    return f"**{text}**" if bold else f"{text} (excludes 0)"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (not isinstance(v, str) and pd.isna(v))


def _count(v) -> str:
    if _missing(v):
        return "?"
    return f"{int(v):,}" if float(v).is_integer() else f"{float(v):,.1f}"


def readable(frame: pd.DataFrame, bold: bool = True) -> pd.DataFrame:
    """The frame as the notebooks and the report show it: one line per table, evaluation set and metric; an
    interval that excludes 0 set in Markdown bold (``bold``, the report) or marked "(excludes 0)" (a notebook)."""
    lines = []
    for _, r in frame.iterrows():
        head = {"table": r["table"], "evaluation": r["group"],
                "metric": "–" if _missing(r["metric"]) else r["metric"]}
        note = "" if _missing(r.get("note")) else str(r["note"])
        if _missing(r.get("all")):
            counts = ("" if _missing(r.get("n_exact")) else
                      f"{_count(r['n_exact'])} of {_count(r['n_all'])} images")
            lines.append({**head, "runs": int(r["runs"]) if not _missing(r["runs"]) else 0, "all images": "",
                          "pixel-exact only": counts, "difference [95 % interval]": "", "note": note})
            continue
        allv = f"{r['all']:.4f} (n = {_count(r['n_all'])})"
        if str(r["metric"]).startswith("Calibration"):
            allv += f"; size-matched {r['all_matched']:.4f}"
        lines.append({**head, "runs": int(r["runs"]), "all images": allv,
                      "pixel-exact only": f"{r['exact']:.4f} (n = {_count(r['n_exact'])})",
                      "difference [95 % interval]": _interval(r, bold), "note": note})
    return pd.DataFrame(lines, columns=["table", "evaluation", "metric", "runs", "all images", "pixel-exact only",
                                        "difference [95 % interval]", "note"])


def show(tables: Grid | dict[str, list[Row]], records: dict[str, dict], out_dir, *, n_boot: int = N_BOOT,
         seed: int = 0) -> pd.DataFrame:
    """A chapter notebook's one call: :func:`table_sensitivity` of every table in ``tables`` (a grid, or id -> rows),
    each written as ``provenance_<id>.csv`` in ``out_dir``; displays them (or says that every image is exact) and
    returns the frames together."""
    tables = tables.tables if isinstance(tables, Grid) else tables
    frames = []
    for tid, rows in tables.items():
        frame = table_sensitivity(tid, rows, records, n_boot=n_boot, seed=seed)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(csv_path(out_dir, tid)) as tmp:
            frame.to_csv(tmp, index=False)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    if not frame.empty and (frame.note.astype(object) == ALL_EXACT).all():
        print("Every evaluation image is pixel-exact (official CIFAR-10 archive): nothing rests on the "
              "reconstruction, so there is nothing to compare.")
    else:
        display(readable(frame, bold=False))
    return frame


INTRO = ("Offline, the CIFAR-10 test images are the mirror's reconstruction: of the evaluation images only some are "
         "pixel-exact, the rest JPEG-recompressed copies (mean absolute error about 5.7/255). Each table's headline "
         "metrics are recomputed from its runs' kept outputs on the pixel-exact images alone, beside their value on "
         "all of them (means over the table's distinct runs). Difference: exact − all; for the calibration errors, "
         "exact − the mean over random subsets of all images of the same size (a binned calibration error grows as "
         "the set shrinks), shown as *size-matched*. 95 % interval: paired bootstrap over the table's runs and "
         "images (images resampled within the exact and within the recompressed ones, the same draw for every run "
         "on the same images; {n_boot} replicates, percentiles re-centred on the estimate). **Bold**: the interval "
         "excludes 0, so the exact images score differently from the whole set (the reconstruction moves the "
         "metric, or the exact images differ otherwise; among the CIFAR-10H evaluation images they are those "
         "among the first 1,017 test images). "
         "Corruption CE is not recomputed (no outputs on corrupted images are kept).")


def load(tables_dir) -> dict[str, pd.DataFrame]:
    """``{table id: frame}`` from the ``provenance_<id>.csv`` files in ``tables_dir``."""
    out = {}
    for path in sorted(Path(tables_dir).glob("provenance_*.csv")):
        try:
            out[path.stem[len("provenance_"):].replace("_", ".")] = pd.read_csv(path, keep_default_na=True)
        except pd.errors.EmptyDataError:
            continue
    return out


def report_section(tables_dir, tables: dict[str, pd.DataFrame], order=()) -> list[str]:
    """The report's "Provenance sensitivity" section, from ``provenance_<id>.csv`` (:func:`show`). ``tables``: the
    report's tables (id -> tidy frame), whose ``images`` column tells the image source; ``order``: table ids in
    the order to show them (others after)."""
    lines = ["## Provenance sensitivity", ""]
    images = {str(i) for f in tables.values() if "images" in f for i in f["images"].dropna()}
    found = load(tables_dir)
    if images == {"official"}:
        return lines + ["Every evaluation image is pixel-exact (the official CIFAR-10 archive): no result rests on "
                        "the reconstruction, so there is nothing to compare.", ""]
    if not found:
        return lines + ["*Not computed yet: each chapter notebook's provenance cell writes "
                        "`results/tables/provenance_<table>.csv`.*", ""]
    ids = [t for t in order if t in found] + sorted(set(found) - set(order))
    frame = pd.concat([found[t].reindex(columns=COLUMNS) for t in ids], ignore_index=True)
    if (frame.note.astype(object).where(frame.note.notna(), "") == ALL_EXACT).all():
        return lines + ["Every evaluation image of these tables is pixel-exact: nothing to compare.", ""]
    n_boot = int(frame.n_boot.dropna().iloc[0]) if frame.n_boot.notna().any() else N_BOOT
    shown = readable(frame)
    head = "| " + " | ".join(shown.columns) + " |\n|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in shown.itertuples(index=False)]
    missing = [t for t in tables if t not in found and t in order]
    tail = ([f"Not computed for Table{'s' if len(missing) > 1 else ''} {', '.join(missing)} (re-run its "
             "notebook's provenance cell)."] if missing else [])
    return lines + [INTRO.format(n_boot=f"{n_boot:,}"), "", head] + body + [""] + tail + ([""] if tail else [])
