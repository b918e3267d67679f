"""How the companion writes a table and a number, shared by the report (:mod:`.report`) and a notebook's tables
(:func:`thesis_lib.reporting.tables.show`, ``results/tables/table_<id>.md``): Greek letters as symbols, counts as
integers, p-values in scientific notation, each thesis table wide as the thesis prints it (cells ``ours ± CI /
thesis``, † under 5 seeds, ✓ a thesis value inside our interval) under the protocol that ran beside the thesis's,
free-form tables, and the HTML page."""

from __future__ import annotations

import base64
import html as html_lib
import math
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

from thesis_lib.chapters.grids import thesis_protocol
from thesis_lib.core import catalogue, profiles
from thesis_lib.core.catalogue import THESIS_SEEDS

# ---------------------------------------------------------------------------------------------------------------
# Names and symbols
# ---------------------------------------------------------------------------------------------------------------

_GREEK = {"lambda": "λ", "omega": "ω", "kappa": "κ", "gamma": "γ", "beta": "β", "tau": "τ", "alpha": "α",
          "Psi": "Ψ", "psi": "ψ", "sigma": "σ", "epsilon": "ε"}
_GREEK_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(_GREEK, key=len, reverse=True)) + r")(?![a-z])")


def symbols(text) -> str:
    """ASCII spellings of Greek letters as the letters: ``"Ours (Sep, lambda_h^m with omega_m)"`` ->
    ``"Ours (Sep, λ_h^m with ω_m)"``, ``"tau mixing"`` -> ``"τ mixing"``, ``"gamma^omega"`` -> ``"γ^ω"``."""
    return _GREEK_RE.sub(lambda m: _GREEK[m.group(1)], str(text))


MODEL_NAMES = {"resnet34a": "ResNet-34A", "resnet50": "ResNet-50", "vgg11": "VGG-11",
               "preact_resnet18": "PreAct ResNet-18", "preact_resnet34": "PreAct ResNet-34",
               "resnet34_mixup": "ResNet-34 (mixup code)", "small_cnn": "small CNN"}


def display(obj) -> None:
    """IPython's display inside a notebook, ``print`` elsewhere (a script, a test): how every notebook-facing call
    shows a frame."""
    try:
        from IPython.display import display as ipython_display  # IPython only inside a notebook
    except ImportError:  # pragma: no cover - outside IPython
        print(obj)
        return
    ipython_display(obj)


# ---------------------------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------------------------


def isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or (not isinstance(x, str) and pd.isna(x))


def format_p(p) -> str:
    """A p-value in scientific notation, two significant digits: ``0.00032`` -> ``"3.2e-04"``."""
    return "–" if isnan(p) else f"{float(p):.1e}"


def format_number(v) -> str:
    """A value of a free-form table: integers (counts, even when pandas read them as floats) without decimals,
    other numbers with up to four decimals, text as it is."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if v.is_integer():
            return str(int(v))
        return f"{v:.4f}".rstrip("0").rstrip(".")
    if hasattr(v, "item"):                    # numpy scalars
        return format_number(v.item())
    return str(v)


def _is_p_column(name: str) -> bool:
    return bool(re.fullmatch(r"(p|p[ _-]?value|p[ _-]?val|.* p|p \(.*\))", str(name).strip(), re.IGNORECASE))


def _seed_count(value) -> int:
    if isnan(value):
        return 0
    return len([s for s in str(value).split(",") if s.strip()])


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------


def _first(frame: pd.DataFrame, column: str, default=None):
    if column not in frame or frame.empty:
        return default
    values = frame[column].dropna()
    return values.iloc[0] if len(values) else default


def _joined(frame: pd.DataFrame, column: str, default="?") -> str:
    if column not in frame or frame.empty:
        return default
    return ", ".join(sorted({str(v) for v in frame[column].dropna()})) or default


def _n_seeds(r) -> int:
    if "n_seeds" in r and not isnan(r["n_seeds"]):
        return int(r["n_seeds"])
    return int(r["n"]) if "n" in r and not isnan(r["n"]) else 1


def table_runs(frame: pd.DataFrame) -> int:
    """Distinct runs behind a table: the ``runs`` column :func:`thesis_lib.reporting.tables.write` records, else (older
    tables) the runs pooled into each row and column block of the first evaluation set."""
    runs = _first(frame, "runs")
    if runs is not None:
        return int(runs)
    if frame.empty or "n" not in frame:
        return 0
    first = frame[frame.group == frame.group.iloc[0]]
    block = first.metric.astype(str).str.extract(r"(\(.*\))$")[0].fillna("")
    return int(first.assign(block=block).groupby(["row", "block"]).n.max().sum())


def table_seeds(frame: pd.DataFrame) -> int:
    """The seeds a table ran: from its ``seeds`` column, else the largest ``n_seeds`` (or ``n``)."""
    k = _seed_count(_first(frame, "seeds")) if "seeds" in frame else 0
    if k:
        return k
    if frame.empty:
        return 0
    return max(_n_seeds(r) for _, r in frame.iterrows())


def at_thesis_protocol(frame: pd.DataFrame | None) -> bool:
    """Whether a table ran the thesis's protocol: profile ``full`` only, every cell on 5 seeds or more."""
    if frame is None or frame.empty or "profile" not in frame:
        return False
    if {str(p) for p in frame.profile.dropna()} != {"full"}:
        return False
    return all(_n_seeds(r) >= THESIS_SEEDS for _, r in frame.iterrows())


def _models_text(models) -> str:
    return "/".join(MODEL_NAMES.get(m, m) for m in models)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _profile_protocol(tid: str, profile: str):
    if profile not in profiles.SETTINGS:
        return None
    ps = profiles.SETTINGS[profile]
    return ps.chapter3 if tid[0] in "3B" else ps.mixup


def protocol_lines(tid: str, frame: pd.DataFrame) -> list[str]:
    """The caption's provenance: profile, images, label rules; the protocol that ran beside the thesis's; and
    how many of the thesis protocol's runs the table holds."""
    prof = _joined(frame, "profile")
    imgs = _joined(frame, "images")
    rules = _joined(frame, "rules", "thesis")
    lines = [f"Profile: **{prof}** · images: {imgs} · label rules: {rules}", ""]
    models = [m.strip() for m in _joined(frame, "models", "").split(",") if m.strip()]
    epochs = _joined(frame, "epochs", "")
    guessed = ""
    if not models or not epochs:               # a table written before these were recorded: the profile's own
        proto = _profile_protocol(tid, prof)
        if proto is not None:
            models, epochs = models or list(proto.models), epochs or str(proto.epochs)
            guessed = " (the profile's defaults; this table did not record them)"
    seeds = table_seeds(frame)
    ran = [_models_text(models) if models else "models not recorded",
           (f"{_plural(int(epochs), 'epoch')}" if epochs.isdigit() else f"{epochs} epochs") if epochs
           else "epochs not recorded", _plural(seeds, "seed")]
    text = f"Ran: {', '.join(ran)}{guessed}"
    if tid in catalogue.TABLES:
        t_models, t_epochs, t_runs = thesis_protocol(tid)
        text += f"; thesis: {_models_text(t_models)}, {t_epochs} epochs, {THESIS_SEEDS} seeds"
        n = table_runs(frame)
        profs = {str(p) for p in frame.profile.dropna()} if "profile" in frame else set()
        if profs != {"full"}:                  # another profile's runs are never counted as the thesis's
            where = (f"at the {prof} profile{'s' if len(profs) > 1 else ''}" if profs
                     else "of an unrecorded profile")
            text += f". {_plural(n, 'run')} {where} (not the thesis protocol, which trains {t_runs})."
        else:
            text += (f". **{n} of {t_runs} runs** of the thesis protocol." if n < t_runs
                     else f". All {t_runs} runs of the thesis protocol.")
    else:
        text += "."
    return lines + [text, ""]


def _cell(r, printed: str | None = None) -> str:
    if r is None:
        return ""
    ours = "–" if isnan(r.ours) else (f"{r.ours:.3f}" if isnan(r.ours_ci) else f"{r.ours:.3f} ± {r.ours_ci:.3f}")
    if _n_seeds(r) < THESIS_SEEDS:
        ours += " †"
    theirs = "–" if isnan(r.thesis) else (printed or f"{r.thesis:g}")
    inside = str(r.thesis_in_ci) in ("True", "1", "1.0") if "thesis_in_ci" in r else False
    return f"{ours} / {theirs}" + (" ✓" if inside else "")


def wide_table(tid: str, frame: pd.DataFrame) -> list[str]:
    """Rows x metrics as the thesis prints them; each cell ``ours ± CI / thesis``. Thesis rows we did not run
    show ``– / thesis``; our rows the thesis lacks show ``ours / –``, and so do metrics the thesis does not print
    for the table (after its own); accuracy is left out, as in the thesis."""
    pub = catalogue.published(tid) if tid in catalogue.TABLES else pd.DataFrame(
        columns=["group", "row", "metric", "mean", "ci"])
    ours_metrics = [m for m in dict.fromkeys(frame.metric) if not str(m).startswith("Accuracy")] \
        if not frame.empty else []
    metrics = list(catalogue.TABLES[tid].metrics) if tid in catalogue.TABLES else []
    metrics += [m for m in ours_metrics if m not in metrics]  # a metric we add (C.1's Corruption CE): "ours / –"
    metrics = _all_bins_beside_authors(metrics)
    groups = list(dict.fromkeys(list(frame.group) + list(pub.group))) if not frame.empty else list(
        dict.fromkeys(pub.group))
    one_group = len(groups) == 1
    printed = catalogue.printed_means(tid)
    head = ([] if one_group else ["evaluation"]) + ["labels"] + [symbols(m) for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        ours_g = frame[frame.group == g] if not frame.empty else frame
        pub_g = pub[pub.group == g]
        # our rows in our order (the grids follow the thesis's), then the thesis's rows we did not run
        ours_rows = list(dict.fromkeys(ours_g.row)) if not ours_g.empty else []
        rows = ours_rows + [r for r in dict.fromkeys(pub_g.row) if r not in ours_rows]
        for i, row in enumerate(rows):
            cells = []
            for m in metrics:
                hit = ours_g[(ours_g.row == row) & (ours_g.metric == m)] if not ours_g.empty else ours_g
                if not hit.empty:
                    cells.append(_cell(hit.iloc[0], printed.get((g, row, m))))
                    continue
                cells.append(f"– / {printed[(g, row, m)]}" if (g, row, m) in printed else "")
            first = [] if one_group else [f"**{g}**" if i == 0 else ""]
            lines.append("| " + " | ".join(first + [symbols(row)] + cells) + " |")
    return lines


#: The all-bins calibration cell's name, and the thesis cell (the authors' statistic) it is set beside
#: (:data:`thesis_lib.reporting.tables.METRICS`).
ALL_BINS, AUTHORS = "Calibration, all bins", "Calibration"


def _all_bins_beside_authors(metrics: list[str]) -> list[str]:
    """Each "Calibration, all bins<suffix>" column moved right after its "Calibration<suffix>" column."""
    moved = [m for m in metrics if str(m).startswith(ALL_BINS) and AUTHORS + str(m)[len(ALL_BINS):] in metrics]
    out = [m for m in metrics if m not in moved]
    for m in moved:
        out.insert(out.index(AUTHORS + str(m)[len(ALL_BINS):]) + 1, m)
    return out


CALIBRATION_LEGEND = ("Calibration: the authors' statistic (their adaptive bins, last bin dropped), as the thesis's "
                      "cells were computed, so it is the one compared with the thesis; Calibration, all bins: the "
                      "correct RMS calibration error over every bin, beside it (both recomputed from each run's kept "
                      "outputs).")


def table_body(tid: str, frame: pd.DataFrame) -> list[str]:
    """A table below its heading: the protocol that ran beside the thesis's, the wide table, and its legend."""
    lines = protocol_lines(tid, frame)
    groups = list(dict.fromkeys(frame.group))
    few = sorted({_n_seeds(r) for _, r in frame.iterrows() if _n_seeds(r) < THESIS_SEEDS})
    legend = ("Each cell: ours (mean ± 95 % CI over runs) / thesis (mean as printed). ✓: the thesis value lies "
              "inside our interval.")
    if few:
        legend += (f" †: fewer than {THESIS_SEEDS} seeds (here {', '.join(map(str, few))}); with one seed there is "
                   "no interval.")
    if len(groups) == 1:
        legend += f" Evaluated on {groups[0]}."
    if "metric" in frame and frame.metric.astype(str).str.startswith(ALL_BINS).any():
        legend += " " + CALIBRATION_LEGEND
    lines += wide_table(tid, frame) + ["", legend, ""]
    return lines



def md_table(frame: pd.DataFrame) -> str:
    """A free-form table: counts as integers, p-values in scientific notation, Greek letters as symbols."""
    p_cols = {c for c in frame.columns if _is_p_column(c)}

    def cell(col, v):
        if isinstance(v, (bool, np.bool_)):                 # a held / not-held column reads as words
            return "yes" if v else "no"
        if col in p_cols and isinstance(v, (int, float)) and not isinstance(v, bool):
            return format_p(v)
        return symbols(format_number(v)).replace("|", "\\|").replace("\n", " ")

    # column names as words (p_value -> p value, thesis_says -> thesis says)
    head = ("| " + " | ".join(symbols(str(c).replace("_", " ")) for c in frame.columns) + " |\n|"
            + "---|" * len(frame.columns))
    return head + "\n" + "\n".join("| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row)) + " |"
                                   for row in frame.itertuples(index=False))


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


_CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:0 1em;line-height:1.4;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 .3em;font-size:.92em}"
        "td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top}th{background:#f0f0f0}"
        "tbody tr:nth-child(even){background:#fafafa}td{font-variant-numeric:tabular-nums}"
        "blockquote{border-left:4px solid #d9822b;background:#fff7ee;margin:1em 0;padding:.2em 1em}"
        "img{max-width:100%;display:block;margin:1.2em auto .3em}h3{margin-top:1.8em}"
        ".claims td:nth-child(1){white-space:nowrap}.claims td:nth-child(2){min-width:16em}"
        ".claims td:nth-child(3),.claims td:nth-child(4){min-width:13em}.claims td:nth-child(5){font-size:.82em}")


def html(md: str, figures: list[tuple[Path, str]] | None = None) -> str:
    """The HTML page of ``md``; every figure in ``figures`` is embedded as a data URI (no path outside the file)."""
    import mistune  # only the HTML page needs it

    body = mistune.html(md) if hasattr(mistune, "html") else mistune.markdown(md)
    by_name = {Path(fig).name: Path(fig) for fig, _ in figures or ()}

    def embed(m):                        # whatever escaping the link got, the file name finds the figure
        name = Path(unquote(html_lib.unescape(m.group(1)))).name
        return f'src="{_data_uri(by_name[name])}"' if name in by_name else m.group(0)

    body = re.sub(r'src="([^"]+)"', embed, body)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Collins (2022) report</title>"
            f"<style>{_CSS}</style></head><body>" + body + "</body></html>")


