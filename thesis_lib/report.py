"""``results/REPORT.md`` and ``REPORT.html``: every table beside the thesis, every figure, and the thesis's
claims checked one by one, headed by the profile and image provenance so no number is mistaken for another.

    python -m thesis_lib.report [--results results] [--figures figures]

It only reads what the notebooks wrote (``results/tables/*.csv``, ``figures/*.png``), so it re-renders in seconds.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from thesis_lib import atomic, claims, reference
from thesis_lib.profiles import default_figures_dir, default_results_dir
from thesis_lib.summary import format_ci


def load_tables(tables_dir: Path) -> dict[str, pd.DataFrame]:
    """``{table id: tidy frame}`` from ``table_<id>.csv`` files (``table_3_1`` -> ``3.1``)."""
    out = {}
    for path in sorted(Path(tables_dir).glob("table_*.csv")):
        out[path.stem[len("table_"):].replace("_", ".")] = pd.read_csv(path)
    return out


def _fmt(x, digits=3):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _table_section(tid: str, frame: pd.DataFrame | None) -> list[str]:
    lines = [f"### Table {tid}. {reference.caption(tid)}", ""]
    if frame is None:
        return lines + ["*Not run at this profile.*", ""]
    prof = ", ".join(sorted(set(frame.profile))) if "profile" in frame else "?"
    imgs = ", ".join(sorted(set(frame.images))) if "images" in frame else "?"
    rules = ", ".join(sorted(set(frame.rules))) if "rules" in frame else "thesis"
    lines += [f"Profile: **{prof}** · images: {imgs} · label rules: {rules}", "",
              "| evaluation | labels | metric | ours (mean ± 95 % CI) | thesis | difference | thesis in our CI |",
              "|---|---|---|---|---|---|---|"]
    for _, r in frame.iterrows():
        if isinstance(r.thesis, float) and math.isnan(r.thesis) and r.metric.startswith("Accuracy"):
            continue  # the thesis reports no accuracy
        inside = {True: "yes", False: "no"}.get(r.thesis_in_ci if isinstance(r.thesis_in_ci, bool) else
                                                  {"True": True, "False": False}.get(str(r.thesis_in_ci)), "– (one run)")
        thesis = "–" if math.isnan(r.thesis) else f"{r.thesis:g} ± {r.thesis_ci:g}"
        diff = "–" if math.isnan(r["difference"]) else f"{r['difference']:+.3f}"
        lines.append(f"| {r.group} | {r.row} | {r.metric} | {format_ci(r.ours, r.ours_ci)} | {thesis} | {diff} | {inside} |")
    return lines + [""]


def _verdict_cell(verdict: str, p: float, n: int | None = None) -> str:
    bits = [] if p is None or (isinstance(p, float) and math.isnan(p)) else [f"p = {p:.2g}"]
    if n:
        bits.append(f"n = {n}")
    return f"**{verdict}**" + (f" ({', '.join(bits)})" if bits else "")


def claims_section(verdicts: pd.DataFrame) -> list[str]:
    """The claims judged on the thesis's own numbers and on ours, side by side (:func:`claims.side_by_side`)."""
    ours, theirs = verdicts.ours.value_counts(), verdicts.thesis.value_counts()
    indicative = ours.get(claims.INDICATIVE_SAME, 0) + ours.get(claims.INDICATIVE_REVERSED, 0)
    lines = ["## The thesis's claims", "",
             "Each claim is one or more comparisons of two rows (lower is better), judged by a two-sided Welch t-test "
             f"over seeds at p < {claims.ALPHA:g}, with standard deviations recovered from the 95 % t-intervals "
             "(sd = half-width × √n / t₀.₉₇₅,ₙ₋₁). **held**: every comparison has the claimed sign and is "
             "significant; **same direction, not significant**: the claimed sign, but some p ≥ 0.05; **reversed**: "
             "some difference has the opposite sign; **indicative: 1 seed**: a row has one run, so only the direction "
             "is known; p is the largest of the claim's comparisons.", "",
             f"The thesis's numbers are read as intervals over n = {claims.THESIS_SEEDS} seeds. Tables 3.1, 3.2 and B.1 "
             "average three architectures: the thesis does not say how its interval is formed there, and our interval "
             "pools every model × seed run of a row (n = 3 × seeds), so the test counts the spread between "
             "architectures as noise (conservative).", "",
             f"**Ours:** {ours.get(claims.HELD, 0)} held, {ours.get(claims.NOT_SIGNIFICANT, 0)} same direction but not "
             f"significant, {ours.get(claims.REVERSED, 0)} reversed, {indicative} indicative (1 seed), "
             f"{ours.get(claims.NOT_RUN, 0)} not run. **The thesis's own numbers:** {theirs.get(claims.HELD, 0)} held, "
             f"{theirs.get(claims.NOT_SIGNIFICANT, 0)} same direction but not significant, "
             f"{theirs.get(claims.REVERSED, 0)} reversed.", "",
             "| table | claim | thesis's numbers | ours | our comparisons |", "|---|---|---|---|---|"]
    for _, r in verdicts.iterrows():
        lines.append(f"| {r.table} | {r.claim} | {_verdict_cell(r.thesis, r['thesis p'])} | "
                     f"{_verdict_cell(r.ours, r['ours p'], int(r['ours n']) or None)} | {r['ours detail'] or '–'} |")
    return lines


def markdown(results_dir: Path, figures_dir: Path, report_dir: Path) -> str:
    tables = load_tables(results_dir / "tables")
    profiles = sorted({p for f in tables.values() if "profile" in f for p in set(f.profile)})
    images = sorted({p for f in tables.values() if "images" in f for p in set(f.images)})
    verdicts = claims.side_by_side(tables)
    lines = ["# Reproducing Collins (2022): report", "",
             f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from `results/tables/` and `figures/`.", "",
             f"**Profile: {', '.join(profiles) or 'no tables yet'}** · **images: {', '.join(images) or '?'}**", ""]
    if profiles != ["full"]:
        lines += ["> Only the `full` profile is the thesis's protocol. Numbers from `quick` or `smoke` come from a small "
                  "CNN trained for a few epochs and exercise the pipeline; they are not comparable with the thesis.", ""]
    if "mirror_reconstruction" in images:
        lines += ["> Images: the offline mirror's CIFAR-10 reconstruction (2,375 of 10,000 images pixel-exact, the rest "
                  "JPEG-recompressed copies), not the official archive.", ""]
    lines += claims_section(verdicts)
    lines += ["", "## Tables", ""]
    for tid in reference.TABLES:
        lines += _table_section(tid, tables.get(tid))
    extra = [("Chapter 3: dataset statistics", "chapter3_data_statistics.csv"),
             ("Chapter 4: the statements of section 4.2.2", "chapter4_statements.csv")]
    for title, name in extra:
        path = results_dir / "tables" / name
        if path.is_file():
            lines += [f"### {title}", "", _md_table(pd.read_csv(path)), ""]
    figs = sorted(Path(figures_dir).glob("*.png"))
    lines += ["## Figures", ""]
    for fig in figs:
        rel = Path(_relpath(fig, report_dir))
        lines += [f"**{fig.stem}**", "", f"![{fig.stem}]({rel.as_posix()})", ""]
    if not figs:
        lines += ["*No figures yet.*", ""]
    return "\n".join(lines) + "\n"


def _md_table(frame: pd.DataFrame) -> str:
    def cell(v):
        return _fmt(v, 4) if isinstance(v, float) else str(v).replace("|", "/")

    head = "| " + " | ".join(map(str, frame.columns)) + " |\n|" + "---|" * len(frame.columns)
    return head + "\n" + "\n".join("| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False))


def _relpath(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), start.resolve())


def write(results_dir=None, figures_dir=None) -> tuple[Path, Path]:
    results = Path(results_dir) if results_dir else default_results_dir()
    figures = Path(figures_dir) if figures_dir else default_figures_dir()
    md = markdown(results, figures, results)
    md_path, html_path = results / "REPORT.md", results / "REPORT.html"
    atomic.write_text(md_path, md)
    import mistune

    body = mistune.html(md) if hasattr(mistune, "html") else mistune.markdown(md)
    atomic.write_text(html_path, "<!doctype html><html><head><meta charset='utf-8'><title>Collins (2022) report</title>"
                         "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:"
                         "collapse}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}</style></head><body>"
                         + body + "</body></html>")
    return md_path, html_path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m thesis_lib.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", default=None)
    p.add_argument("--figures", default=None)
    a = p.parse_args(argv)
    md, html = write(a.results, a.figures)
    print(f"wrote {md} and {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
