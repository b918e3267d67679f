"""python -m thesis_lib.grid: the notebooks' own specs, filled into the cache table by table, with a deadline."""

from thesis_lib.chapters.ch4 import runs as chapter4
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
    specs = {s.key for r in chapter4.build_grid("smoke", tables=("4.2",))["4.2"] for s in r.specs}
    assert {p.stem for p in tmp_path.glob("smoke/*.json")} == specs    # the notebook's keys, so it only loads them
    assert f"| 4.2 | {len(specs)} | {len(specs)} |" in out

    assert grid.main(["--chapter", "3", "--tables", "9.9", "--list"]) == 2
    assert "unknown table" in capsys.readouterr().err
