"""python -m thesis_lib.grid: the notebooks' own specs, filled into the cache table by table, with a deadline."""

from thesis_lib.chapters import grids
from thesis_lib.chapters.ch4 import grid as chapter4_grid
from thesis_lib.cli import grid


def test_grid_lists_trains_and_respects_a_deadline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    assert grid.main(["--chapter", "3", "--tables", "3.1", "--profile", "full", "--models", "resnet34a", "--list"]) == 0
    assert "| 3.1 | 25 | 0 |" in capsys.readouterr().out          # 5 rows x 5 seeds, nothing trained

    args = ["--chapter", "4", "--tables", "4.2", "--profile", "smoke", "--device", "cpu"]
    assert grid.main(args + ["--deadline-min", "0"]) == 0        # past its deadline before the first run: none starts
    assert not list(tmp_path.glob("smoke/*.json"))
    assert grid.main(args) == 0
    out = capsys.readouterr().out
    specs = {s.key for s in chapter4_grid.build("smoke", tables=("4.2",)).specs()}
    assert {p.stem for p in tmp_path.glob("smoke/*.json")} == specs    # the notebook's keys, so it only loads them
    assert f"| 4.2 | {len(specs)} | {len(specs)} |" in out

    assert grid.main(["--chapter", "3", "--tables", "9.9", "--list"]) == 2
    assert "unknown table" in capsys.readouterr().err


def test_grid_rules_reach_every_spec_and_chapter_4_refuses_them(tmp_path, monkeypatch, capsys):
    """``--rules`` (default thesis) is passed into the specs the grid builds, as the notebooks' ``rules``; Chapter
    4's labels come from lambda_h, so a rule set other than the default is an error there."""
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    thesis = grids.build(5, "smoke", tables=("5.2",)).tables
    release = grids.build(5, "smoke", tables=("5.2",), rules="release").tables
    keys = lambda rows: {s.key for r in rows["5.2"] for s in r.specs}  # noqa: E731
    assert {s.rules for r in release["5.2"] for s in r.specs} == {"release"} and not keys(thesis) & keys(release)
    assert {s.rules for r in grids.build(3, "smoke", tables=("3.2",), rules="release").tables["3.2"] for s in r.specs} == {"release"}
    assert grid.main(["--chapter", "5", "--tables", "5.2", "--profile", "smoke", "--rules", "release", "--list"]) == 0
    assert grid.main(["--chapter", "3", "--tables", "3.2", "--profile", "smoke", "--rules", "authors", "--list"]) == 2
    assert "unknown label rule set" in capsys.readouterr().err
    assert grid.main(["--chapter", "4", "--tables", "4.2", "--profile", "smoke", "--rules", "release", "--list"]) == 2
    assert "Chapter 4's labels come from lambda_h" in capsys.readouterr().err
    assert grid.main(["--chapter", "4", "--tables", "4.2", "--profile", "smoke", "--rules", "thesis", "--list"]) == 0

