"""``results/REPORT.md`` and ``REPORT.html``: every table beside the thesis, every figure, and the thesis's
claims checked one by one, headed by the profile and image provenance so no number is mistaken for another.
The command line, ``python -m thesis_lib.report``, is :mod:`thesis_lib.cli.report`; how a table or a number is
written is :mod:`.render` (shared with the notebooks' tables); which tables and figures exist, their captions and
order, is the thesis catalogue (:mod:`thesis_lib.core.catalogue`).

It only reads what the notebooks wrote (``results/tables/*.csv``, ``figures/*.png``), so it re-renders in seconds.

How it reads:

* tables are wide, as the thesis prints them: rows x metrics, each cell ``ours ± 95 % CI / thesis``; ``†`` marks
  a cell resting on fewer than 5 seeds, ``✓`` a thesis value inside our interval, and every caption says the
  protocol that ran (models, epochs, seeds; from the table's own records) beside the thesis's, and how many of
  the thesis protocol's runs the table holds (profile ``full``; another profile's runs are counted as that
  profile's, never as the thesis's);
* "Calibration" cells hold the authors' statistic (last bin dropped, as the thesis's cells were computed) with the
  correct all-bins value beside them, both recomputed from the runs' kept outputs (:mod:`.recompute`); a
  "Provenance sensitivity" section sets each table's metrics on the pixel-exact evaluation images beside all of them
  (:mod:`.provenance_sensitivity`);
* figures follow the thesis's order under the thesis's captions, embedded in the HTML (data URIs), so the HTML
  can be moved or mailed on its own;
* claim verdicts on a table that did not run the thesis protocol (profile ``smoke`` or ``quick``, or fewer than 5
  seeds) are labelled "indicative (not the thesis protocol)" and never set in bold;
* every claim quotes its sentence (section and page; :mod:`.claims`), and a forest plot of every comparison, the
  thesis's difference beside ours (:mod:`.forest`, ``figures/fig_claims_forest.png``, written by :func:`write` at
  every profile), heads the report;
* ASCII spellings (``lambda_h``, ``omega``, ``tau``...) are shown as symbols (λ_h, ω, τ); counts as integers,
  p-values in scientific notation (``3.2e-04``).

A report without any table is an error (``python -m thesis_lib.report`` exits with status 1, after writing the
report that says so); ``--require`` names notebooks (``03``, ``notebooks/04_hmix.ipynb``) that must each have produced at least one table, or table
ids (``3.1``) that must exist, and ``--since`` (seconds since the epoch) makes tables older than that count as
missing (:func:`check_tables`).
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from thesis_lib.core import atomic, catalogue
from thesis_lib.core.catalogue import THESIS_SEEDS
from thesis_lib.core.profiles import default_figures_dir, default_results_dir
from thesis_lib.reporting import claims, forest, provenance_sensitivity
from thesis_lib.reporting.render import at_thesis_protocol, format_p, html, isnan, md_table, symbols, table_body

# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------


def load_tables(tables_dir: Path, since: float | None = None) -> dict[str, pd.DataFrame]:
    """``{table id: tidy frame}`` from ``table_<id>.csv`` files (``table_3_1`` -> ``3.1``); with ``since``
    (seconds since the epoch), files last written before it are left out."""
    out = {}
    for path in sorted(Path(tables_dir).glob("table_*.csv")):
        if since is not None and path.stat().st_mtime < since:
            continue
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        out[path.stem[len("table_"):].replace("_", ".")] = frame
    return out


def _table_section(tid: str, frame: pd.DataFrame | None) -> list[str]:
    lines = [f"### Table {tid}. {symbols(catalogue.caption(tid))}", ""]
    if frame is None:
        return lines + ["*Not run at this profile.*", ""]
    if frame.empty:
        return lines + ["**Error: the table file holds no rows.**", ""]
    return lines + table_body(tid, frame)


# ---------------------------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------------------------

INDICATIVE = "indicative (not the thesis protocol)"


def _verdict_cell(verdict: str, p: float, n: int | None = None, indicative: bool = False) -> str:
    bits = [] if isnan(p) else [f"p = {format_p(p)}"]
    if n:
        bits.append(f"n = {int(n)}")
    tail = f" ({', '.join(bits)})" if bits else ""
    if verdict == claims.NOT_RUN:
        return verdict
    if verdict == claims.NO_DIRECTION and not indicative:     # nothing claimed: never a bold finding
        return f"{verdict}{tail}"
    if indicative:                   # "indicative: 1 seed, reversed" -> "indicative (not the ...): 1 seed, reversed"
        return f"{INDICATIVE}: {verdict.removeprefix('indicative: ')}{tail}"
    return f"**{verdict}**{tail}"


def claims_section(verdicts: pd.DataFrame, indicative_tables: set[str] | None = None) -> list[str]:
    """The claims judged on the thesis's own numbers and on ours, side by side (:func:`claims.side_by_side`).
    Our verdicts on ``indicative_tables`` (tables not run at the thesis protocol) are labelled indicative and
    never bold."""
    indicative_tables = set(indicative_tables or ())
    ours, theirs = verdicts.ours.value_counts(), verdicts.thesis.value_counts()
    one_seed = ours.get(claims.INDICATIVE_SAME, 0) + ours.get(claims.INDICATIVE_REVERSED, 0)
    lines = ["## The thesis's claims", "",
             "Each claim is re-read from the thesis's sentence, quoted below the table with its section and page, "
             "and encodes each part of it as a comparison of two rows (lower is better; a sentence that names no "
             "metric is read on CE): *A < B* (A beats B), *A not better than B* (\"does not outperform\": held "
             "unless A is significantly lower), a gain larger under one setting than another, or no direction "
             "claimed (\"mixed results\", \"within error bars\", \"inconclusive\"). Each comparison is judged by a "
             f"two-sided Welch t-test over seeds at p < {claims.ALPHA:g}, with standard deviations recovered from "
             "the 95 % t-intervals (sd = half-width × √n / t₀.₉₇₅,ₙ₋₁). *held*: every directional part holds "
             "(significant in the claimed direction; for *not better than*, no significant win); *same direction, "
             "not significant*: the claimed sign, but some p ≥ 0.05; *reversed*: some difference has the opposite "
             "sign (or, for *not better than*, a significant win); *no directional claim*: the sentence claims no "
             "direction (its differences are shown, not judged); *indicative: 1 seed*: a row has one run, so only "
             "the direction is known. \"Nearly all checks\" lets the weakest part fail; p is the deciding part's. "
             "The figure at the top of this report draws every comparison.", "",
             f"The thesis's numbers are read as intervals over n = {claims.THESIS_SEEDS} seeds. Tables 3.1, 3.2 and B.1 "
             "average three architectures: the thesis does not say how its interval is formed there, and our interval "
             "pools every model × seed run of a row (n = 3 × seeds), so the test counts the spread between "
             "architectures as noise (conservative).", ""]
    counts = (f"{ours.get(claims.HELD, 0)} held, {ours.get(claims.NOT_SIGNIFICANT, 0)} same direction but not "
              f"significant, {ours.get(claims.REVERSED, 0)} reversed, {one_seed} indicative (1 seed), "
              f"{ours.get(claims.NO_DIRECTION, 0)} no directional claim, {ours.get(claims.NOT_RUN, 0)} not run")
    ran = verdicts[verdicts.ours != claims.NOT_RUN]
    if indicative_tables and ran.table.isin(indicative_tables).any():
        lines += [f"Ours, {INDICATIVE}: {counts}. Our verdicts on tables not run at the thesis protocol (profile "
                  f"`smoke` or `quick`, or fewer than {THESIS_SEEDS} seeds) only exercise the pipeline; they are "
                  "not findings."]
    else:
        lines += [f"**Ours:** {counts}."]
    held, directional = claims.supported(verdicts, "thesis")
    lines[-1] += (f" **The thesis's own numbers:** {theirs.get(claims.HELD, 0)} held, "
                  f"{theirs.get(claims.NOT_SIGNIFICANT, 0)} same direction but not significant, "
                  f"{theirs.get(claims.REVERSED, 0)} reversed, {theirs.get(claims.NO_DIRECTION, 0)} no directional "
                  f"claim: they support {held} of the {directional} directional claims at p < {claims.ALPHA:g}.")
    lines += ["", '<div class="claims">', "", "| table | claim | thesis's numbers | ours | our comparisons |",
              "|---|---|---|---|---|"]
    for _, r in verdicts.iterrows():
        detail = symbols(r["ours detail"]) if r["ours detail"] else "–"
        lines.append(f"| {r.table} | {r.id}: {symbols(r.claim)} | {_verdict_cell(r.thesis, r['thesis p'])} | "
                     f"{_verdict_cell(r.ours, r['ours p'], int(r['ours n']) or None, r.table in indicative_tables)}"
                     f" | {detail} |")
    lines += ["", "</div>", "", "**The sentences.**", ""]
    for c in claims.CLAIMS:
        note = f" *Read as:* {symbols(c.note)}." if c.note else ""
        lines.append(f"- **{c.id}** ({c.where}): “{symbols(c.quote.replace('$', ''))}”{note}")
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Free-form tables and figures
# ---------------------------------------------------------------------------------------------------------------

EXTRA_TABLES = (("Chapter 3: dataset statistics", "chapter3_data_statistics.csv"),
                ("Chapter 4: the statements of section 4.2.2", "chapter4_statements.csv"),
                ("Chapter 5: what the humans' soft labels put on mixed images (section 5.1.2)",
                 "chapter5_soft_composition.csv"))


def figure_list(figures_dir: Path) -> list[tuple[Path, str]]:
    """``(png, caption)`` in the thesis's order: the thesis's own figures under their captions, then any other
    figure under its file name."""
    found = {p.stem: p for p in sorted(Path(figures_dir).glob("*.png")) if p.stem != forest.FIGURE}
    out = []
    for fig in catalogue.FIGURES:
        if fig.stem in found:
            label = f"Fig. {fig.number}." if fig.number else "Companion figure."
            png = found.pop(fig.stem)
            out.append((png, f"**{label}** {symbols(fig.caption)}{_figure_note(png)}"))
    out += [(p, f"**{symbols(stem)}** (not a figure of the thesis){_figure_note(p)}") for stem, p in found.items()]
    return out


def _figure_note(png: Path) -> str:
    """What our figure shows where it differs from the thesis's (the note :func:`thesis_lib.chapters.common.save`
    wrote beside it), as a sentence after the caption; empty when there is none."""
    note = Path(png).with_name(Path(png).stem + ".note.txt")
    if not note.is_file():
        return ""
    text = note.read_text().strip()
    return f" **Our figure:** {symbols(text)}" if text else ""


# ---------------------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------------------


def markdown(results_dir: Path, figures_dir: Path, report_dir: Path, tables: dict | None = None) -> str:
    tables = load_tables(results_dir / "tables") if tables is None else tables
    profiles = sorted({str(p) for f in tables.values() if "profile" in f for p in set(f.profile.dropna())})
    images = sorted({str(p) for f in tables.values() if "images" in f for p in set(f.images.dropna())})
    verdicts = claims.side_by_side({t: f for t, f in tables.items() if not f.empty})
    indicative = {tid for tid in catalogue.TABLES if not at_thesis_protocol(tables.get(tid))}
    lines = ["# Reproducing Collins (2022): report", "",
             f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from `results/tables/` and `figures/`.", "",
             f"**Profile: {', '.join(profiles) or 'no tables yet'}** · **images: {', '.join(images) or '?'}**", ""]
    if not tables:
        lines += ["> **Error: no table was produced.** Run the notebooks (`./run_all.sh`) first; a report without "
                  "tables is a failed run.", ""]
    if profiles != ["full"]:
        lines += ["> Only the `full` profile is the thesis's protocol. Numbers from `quick` or `smoke` come from a small "
                  "CNN trained for a few epochs (each table says what ran) and exercise the pipeline; they are not "
                  "comparable with the thesis, and every verdict on them is indicative (not the thesis protocol).", ""]
    if "mirror_reconstruction" in images:
        lines += ["> Images: the offline mirror's CIFAR-10 reconstruction (2,375 of 10,000 images pixel-exact, the rest "
                  "JPEG-recompressed copies), not the official archive.", ""]
    glance = Path(figures_dir) / f"{forest.FIGURE}.png"
    if glance.is_file():                             # written by write() at every profile (forest.write)
        lines += [f"![{forest.FIGURE}]({quote(Path(_relpath(glance, report_dir)).as_posix())})", "",
                  "**The claims at a glance.** Every comparison of every claim below: the thesis's difference with its "
                  "95 % interval (square) beside ours (circle), as a percentage of the compared cells' mean, coloured "
                  "by verdict; > 0 is the claimed direction.", ""]
    lines += claims_section(verdicts, indicative)
    lines += ["", "## Tables", ""]
    for tid in catalogue.TABLES:
        lines += _table_section(tid, tables.get(tid))
    for tid in sorted(set(tables) - set(catalogue.TABLES)):
        lines += [f"### Table {tid}", ""] + (["**Error: the table file holds no rows.**", ""] if tables[tid].empty
                                             else table_body(tid, tables[tid]))
    for title, name in EXTRA_TABLES:
        path = results_dir / "tables" / name
        if path.is_file():
            lines += [f"### {title}", "", md_table(pd.read_csv(path)), ""]
    lines += provenance_sensitivity.report_section(results_dir / "tables", tables, order=tuple(catalogue.TABLES))
    figs = figure_list(figures_dir)
    lines += ["## Figures", "", "In the thesis's order, under the thesis's captions; each figure is ours, stamped "
              "with the profile and images it was made from.", ""]
    for fig, caption in figs:
        rel = quote(Path(_relpath(fig, report_dir)).as_posix())     # a space in the path must not break the link
        lines += [f"![{fig.stem}]({rel})", "", caption, ""]
    if not figs:
        lines += ["*No figures yet.*", ""]
    return "\n".join(lines) + "\n"


def _relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def write(results_dir=None, figures_dir=None) -> tuple[Path, Path]:
    results = Path(results_dir) if results_dir else default_results_dir()
    figures = Path(figures_dir) if figures_dir else default_figures_dir()
    tables = load_tables(results / "tables")
    glance = forest.write(tables, figures)           # the claims at a glance, at every profile
    md = markdown(results, figures, results, tables)
    md_path, html_path = results / "REPORT.md", results / "REPORT.html"
    results.mkdir(parents=True, exist_ok=True)
    atomic.write_text(md_path, md)
    atomic.write_text(html_path, html(md, figure_list(figures) + [(glance, "")]))
    return md_path, html_path


# ---------------------------------------------------------------------------------------------------------------
# The no-table check
# ---------------------------------------------------------------------------------------------------------------


class MissingTables(RuntimeError):
    """The notebooks produced no table, or not the tables asked for."""


def notebook_tables(name: str) -> tuple[str, ...]:
    """The table ids a notebook writes (``"03"``, ``"04_hmix"``, ``"notebooks/05_soft_mixup.ipynb"``), from the thesis
    catalogue; empty for a name that is no chapter notebook."""
    m = re.match(r"(\d\d)", Path(str(name)).name)
    chapters = [c for c, nb in catalogue.NOTEBOOKS.items() if m and nb[:2] == m.group(1)]
    return catalogue.table_ids(chapters[0]) if chapters else ()


def check_tables(expected=None, results_dir=None, since: float | None = None) -> dict[str, pd.DataFrame]:
    """Raise :class:`MissingTables` unless ``results_dir/tables`` holds at least one thesis table with rows, and
    every entry of ``expected`` is satisfied: a notebook (``"03"``, ``"04_hmix"``, ``"notebooks/05_soft_mixup.ipynb"``)
    must have written at least one of its tables (:func:`notebook_tables`), a table id (``"3.1"``) must exist.
    With ``since`` (seconds since the epoch) only tables written at or after it count, so tables left over from
    an earlier run do not hide a notebook that wrote none. Returns the tables found."""
    results = Path(results_dir) if results_dir else default_results_dir()
    tables = {t: f for t, f in load_tables(results / "tables", since).items() if not f.empty}
    problems = []
    if not tables:
        problems.append(f"no table in {results / 'tables'}" + (" written since the run started" if since else ""))
    for item in expected or ():
        item = str(item)
        if item in catalogue.TABLES or re.fullmatch(r"[0-9A-Z]+\.[0-9]+", item):
            if item not in tables:
                problems.append(f"Table {item} is missing")
            continue
        mine = notebook_tables(item)
        if not mine:
            problems.append(f"{item!r}: no tables are known for this notebook (the thesis catalogue's NOTEBOOKS: "
                            f"{', '.join(catalogue.NOTEBOOKS.values())})")
        elif not set(mine) & set(tables):
            problems.append(f"notebook {item} produced no table (expected one of {', '.join(mine)})")
    if problems:
        raise MissingTables("; ".join(problems))
    return tables
