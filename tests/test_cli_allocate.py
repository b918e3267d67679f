"""The allocation script (thesis_lib.cli.allocate): priority order, time-boxed stacks, records copied out as saved."""

import json
import subprocess
import sys

import pytest

from thesis_lib.cli import allocate
from thesis_lib.runs import cache
from thesis_lib.runs import run
from thesis_lib.runs.spec import make_spec


def test_priority_order_is_the_stated_one():
    from thesis_lib.chapters.grids import table_rows

    specs = allocate.priority("full")
    every = {s.key for c in (3, 4, 5) for t in table_rows(c, "full", None).values() for r in t for s in r.specs}
    assert len(specs) == len({s.key for s in specs}) and {s.key for s in specs} == every  # each table run, once
    chapters = [s.chapter for s in specs]
    assert chapters == sorted(chapters)                              # Chapter 3, then 4, then 5
    ch3 = [s for s in specs if s.chapter == 3]
    first = ch3[:50]                                                 # Tables 3.1 and 3.2 on ResNet-34A: 25 + 10
    assert {s.model for s in first} == {"resnet34a"}
    models = [s.model for s in ch3]
    assert models.index("vgg11") > max(i for i, m in enumerate(models) if m == "resnet34a")
    assert models.index("resnet50") > max(i for i, m in enumerate(models) if m == "vgg11")
    assert [s.label_method for s in ch3[:5]] == ["hard"] * 5          # Table 3.1's first row, five seeds


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def _tiny(epochs, seed=0):
    return make_spec(3, "hard", None, seed, "smoke", train_subset=200, eval_subset=100, epochs=epochs)


def test_allocation_stops_starting_work_at_its_deadline_and_copies_each_record_as_saved(tmp_path, monkeypatch):
    specs = [_tiny(1), _tiny(2), _tiny(3)]                          # three stacks (their schedules differ)
    clock, out, root = FakeClock(), tmp_path / "out", tmp_path / "runs"
    real_group, real_save = run.run_group, cache.save
    saved = []

    def save_and_check(spec, record, runs_root=None):               # the previous record is out before the next
        for key in saved:
            assert (out / "results" / "runs" / "smoke" / f"{key}.json").is_file()
            assert (out / "results" / "runs" / "smoke" / f"{key}.npz").is_file()
        saved.append(spec.key)
        return real_save(spec, record, runs_root)

    def slow_group(*a, **k):                                        # each stack "takes" 50 s of the fake clock
        records = real_group(*a, **k)
        clock.t += 50
        return records

    monkeypatch.setattr(cache, "save", save_and_check)
    monkeypatch.setattr(run, "run_group", slow_group)
    alloc = allocate.run_allocation(out, 1.5, "cpu", runs_root=root, specs=specs, probe=lambda s, d: 1.0,
                                    clock=clock)
    # 90 s: stack 1 (projected 13 s) and stack 2 (18 s) start; after 100 fake seconds stack 3 must not
    assert [f["key"] for f in alloc.finished] == [specs[0].key, specs[1].key]
    got = sorted(p.name for p in (out / "results" / "runs" / "smoke").iterdir())
    assert got == sorted([f"{s.key}.{ext}" for s in specs[:2] for ext in ("json", "npz")])  # no temporary files
    summary = json.loads((out / "allocation.json").read_text())
    assert summary["runs_finished"] == 2 and summary["aggregate_images_per_s"] > 0
    assert summary["achieved_tflops"] > 0 and len(summary["stacks"]) == 2
    # a copied record is the cache's record, byte for byte
    for s in specs[:2]:
        assert (out / "results/runs/smoke" / f"{s.key}.json").read_bytes() == cache.path_for(s, root).read_bytes()


def test_a_stack_is_shrunk_to_fit_the_time_left(tmp_path):
    specs = [make_spec(3, "hard", None, s, "smoke", train_subset=200, eval_subset=100, epochs=1) for s in range(4)]
    alloc = allocate.Allocation(None, 60.0)
    # 4 steps a run; a stacked step costs 2 s per model: k=4 needs 1.15 * (32 + 24) = 64 s > 60, k=3 fits
    stack, projected = allocate.plan_stack(specs, alloc, "cpu", eval_s=6.0, probe=lambda s, d: 2.0 * len(s))
    assert len(stack) == 3 and projected <= 60
    none, _ = allocate.plan_stack(specs, alloc, "cpu", eval_s=6.0, probe=lambda s, d: 100.0)
    assert none == []


def test_probe_times_a_real_stacked_step():
    specs = [make_spec(3, "hard", None, s, "smoke") for s in range(2)]
    step = allocate.probe_step_s(specs, "cpu")
    assert 0 < step < 5


def test_training_needs_no_gensim(tmp_path):
    """The lent GPU machine carries no gensim: a Semantic-variety run (GloVe similarity) must train without it."""
    code = ("import sys; sys.modules['gensim'] = None\n"
            "from thesis_lib.runs.spec import make_spec\nfrom thesis_lib.runs.execute import execute\n"
            "r = execute(make_spec(3, 'T2Semantic', None, 0, 'smoke', train_subset=200, eval_subset=100, epochs=1),"
            " 'cpu')\nprint(r['metrics']['cifar10h']['ce'])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]


def test_cli_refuses_missing_out_and_bad_minutes(capsys):
    assert allocate.main(["--minutes", "5"]) == 2
    assert "--out is required" in capsys.readouterr().err
    assert allocate.main(["--out", "/tmp/x", "--minutes", "0"]) == 2
    assert "--minutes must be positive" in capsys.readouterr().err


def test_a_failing_multi_run_engine_falls_back_to_single_runs(tmp_path):
    specs = [_tiny(1), _tiny(1, seed=1)]

    def broken_probe(stack, device):
        raise RuntimeError("vmap: no batching rule on this device")

    alloc = allocate.run_allocation(tmp_path / "out", 10, "cpu", runs_root=tmp_path / "runs", specs=specs,
                                    probe=broken_probe)
    assert [f["key"] for f in alloc.finished] == [s.key for s in specs]
    assert {f["engine"] for f in alloc.finished} == {"single"}
    assert len(list((tmp_path / "out" / "results" / "runs" / "smoke").glob("*.json"))) == 2
