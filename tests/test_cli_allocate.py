"""The allocation script (thesis_lib.cli.allocate): priority order, a planner that fills the time, records archived as
saved (at most 8 files, two folders down, in the output folder) and imported back only when valid."""

import io
import json
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from thesis_lib.chapters import grids
from thesis_lib.core import catalogue
from thesis_lib.cli import allocate
from thesis_lib.models import get_model
from thesis_lib.runs import archive, cache
from thesis_lib.runs import run
from thesis_lib.training import multirun
from thesis_lib.runs.spec import make_spec


def test_priority_order_is_the_stated_one():
    specs = allocate.priority("full")
    every = {s.key for s in grids.build_tables("full", catalogue.table_ids()).specs()}
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


def _members(tar_path):
    with tarfile.open(tar_path) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf}


def _returned(out):
    """What a lent machine would send back of ``out``: every file, and its depth in folders."""
    files = [p for p in out.rglob("*") if p.is_file()]
    return files, max((len(p.relative_to(out).parts) - 1 for p in files), default=0)


def _fake_record(spec, step_s):
    rng = np.random.default_rng(spec.seed)
    outputs = {name: {"idx": np.arange(20), "log_probs": rng.normal(size=(20, 10)),
                      "fgsm_log_probs": rng.normal(size=(20, 10))} for name in ("cifar10h", "cifar10s")}
    steps = -(-200 // spec.batch_size)
    return {"key": spec.key, "spec": spec.as_dict(), "label": spec.label(), "profile": spec.profile,
            "metrics": {n: {"ce": 1.5, "accuracy": 0.5, "calibration": 0.1, "fgsm_loss": 2.5} for n in outputs},
            "curve": [{"epoch": e + 1, "loss": 2.0, "seconds": steps * step_s, "images_per_s": 200 / (steps * step_s),
                       "step_s": step_s} for e in range(spec.epochs)],
            "wall_time_s": 6.0, "train_time_s": 1.0, "eval_time_s": 4.0, "setup_time_s": 1.0, "n_train": 200,
            "engine": "multi (fake)", "outputs": outputs}


def fake_group(clock, seconds, step_s=5.0, fail=None):
    """A stand-in for ``run.run_group``: saves a well-formed record per spec (as the engine would) and moves the fake
    clock on by ``seconds(stack)``; ``fail(stack, i)`` may raise before the i-th record is saved."""
    calls = []

    def group(specs, device=None, runs_root=None, on_saved=None, deadline=None, **_):
        calls.append([s.key for s in specs])
        records = []
        for i, spec in enumerate(specs):
            if fail is not None:
                fail(specs, i)
            record = _fake_record(spec, step_s)
            record["group_train_time_s"] = spec.epochs * -(-200 // spec.batch_size) * step_s
            path = cache.save(spec, record, runs_root)
            if on_saved is not None:
                on_saved(spec, path)
            records.append(record)
        clock.t += seconds(specs)
        return records

    group.calls = calls
    return group


def test_allocation_stops_starting_work_at_its_deadline_and_archives_each_record_as_saved(tmp_path, monkeypatch):
    specs = [_tiny(1), _tiny(2), _tiny(3)]                          # three stacks (their schedules differ)
    clock, out, root = FakeClock(), tmp_path / "out", tmp_path / "runs"
    real_group, real_save = run.run_group, cache.save
    saved = []

    def save_and_check(spec, record, runs_root=None):               # the previous record is out before the next
        if saved:
            got = _members(out / "runs.tar")
            for key in saved:
                assert f"runs/smoke/{key}.json" in got and f"runs/smoke/{key}.npz" in got
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
    # 90 s: stack 1 (projected 12 s) and stack 2 start; after 100 fake seconds stack 3 must not
    assert [f["key"] for f in alloc.finished] == [specs[0].key, specs[1].key]
    assert sorted(p.name for p in out.iterdir()) == ["allocation.json", "runs.tar"]   # no temporary files
    summary = json.loads((out / "allocation.json").read_text())
    assert summary["runs_finished"] == 2 and summary["aggregate_images_per_s"] > 0
    assert summary["achieved_tflops"] > 0 and len(summary["stacks"]) == 2 and summary["peak_tflops"] is None
    assert summary["archive"] == {"parts": ["runs.tar"], "records": 2}
    assert all(s["step_s"] > 0 for s in summary["stacks"]) and summary["plan"]
    # an archived record is the cache's record, byte for byte, and imports so into a clean run cache
    got = _members(out / "runs.tar")
    assert len(got) == 4
    for s in specs[:2]:
        assert got[f"runs/smoke/{s.key}.json"] == cache.path_for(s, root).read_bytes()
    rep = archive.import_archive(out, tmp_path / "clean")
    assert sorted(rep.imported) == sorted(s.key for s in specs[:2]) and not rep.rejected
    for s in specs[:2]:
        for ext in ("json", "npz"):
            assert (tmp_path / "clean" / "smoke" / f"{s.key}.{ext}").read_bytes() == \
                cache.path_for(s, root).with_suffix(f".{ext}").read_bytes()


def test_a_killed_allocation_has_returned_every_record_that_finished(tmp_path, monkeypatch):
    specs = [_tiny(1, seed=0), _tiny(1, seed=1), _tiny(2, seed=0), _tiny(2, seed=1)]   # two stacks of two
    clock, out = FakeClock(), tmp_path / "out"

    def kill_in_second_stack(stack, i):
        if stack[0].epochs == 2 and i == 1:
            raise KeyboardInterrupt("the device tool's time limit")      # as SIGTERM or SIGKILL would stop it

    monkeypatch.setattr(run, "run_group", fake_group(clock, lambda st: 10.0, step_s=0.5, fail=kill_in_second_stack))
    with pytest.raises(KeyboardInterrupt):
        allocate.run_allocation(out, 5, "cpu", runs_root=tmp_path / "runs", specs=specs, probe=lambda s, d: 0.5,
                                clock=clock)
    got = _members(out / "runs.tar")
    assert sorted(got) == sorted(f"runs/smoke/{s.key}.{e}" for s in specs[:3] for e in ("json", "npz"))
    assert json.loads((out / "allocation.json").read_text())["runs_finished"] == 2   # as after the first stack
    rep = archive.import_archive(out / "runs.tar", tmp_path / "clean")
    assert sorted(rep.imported) == sorted(s.key for s in specs[:3]) and not rep.rejected
    files, depth = _returned(out)
    assert len(files) <= 8 and depth <= 2


def test_a_stack_is_shrunk_to_fit_the_time_left(tmp_path):
    specs = [make_spec(3, "hard", None, s, "smoke", train_subset=200, eval_subset=100, epochs=1) for s in range(4)]
    alloc = allocate.Allocation(None, 60.0)
    # 4 steps a run; a stacked step costs 2 s per model: k=4 needs 1.15 * (32 + 24) = 64 s > 60, k=3 fits
    stack, projected = allocate.plan_stack(specs, alloc, "cpu", eval_s=6.0, probe=lambda s, d: 2.0 * len(s))
    assert len(stack) == 3 and projected <= 60
    fresh = allocate.Allocation(None, 60.0)                          # step times are kept per allocation
    none, _ = allocate.plan_stack(specs, fresh, "cpu", eval_s=6.0, probe=lambda s, d: 100.0)
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
    assert sorted(n for n in _members(tmp_path / "out" / "runs.tar") if n.endswith(".json")) == \
        sorted(f"runs/smoke/{s.key}.json" for s in specs)


# ---------------------------------------------------------------- the planner fills the time

@pytest.mark.parametrize("probe_cost,expect", [(7.0, 3), (12.0, 2)])
def test_the_planner_interpolates_between_probes_within_their_budget(probe_cost, expect):
    """A step costs 3 s per stacked model: four do not fit, and a second probe (at the size the first one points
    to) lets the line in K show that three do; the size in between is never probed. A second probe that would take
    the probes past 20 s is not made: the plan then rests on the first (a smaller stack is not slower), two."""
    specs = [_tiny(1, seed=s) for s in range(4)]
    clock = FakeClock()
    alloc = allocate.Allocation(None, 60.0 + 2 * probe_cost, clock=clock)
    probed = []

    def probe(stack, device):
        probed.append(len(stack))
        clock.t += probe_cost
        return 3.0 * len(stack)

    stack, projected = allocate.plan_stack(specs, alloc, "cpu", eval_s=5.0, probe=probe)
    assert len(stack) == expect and projected <= alloc.left()
    assert alloc.probe_s <= allocate.PROBE_BUDGET_S
    if probe_cost < 10:
        assert probed == [4, 2] and 3 not in probed                 # two probes, then the line through them
        assert projected == pytest.approx(1.15 * (4 * 9.0 + 3 * 5.0))
    else:
        assert probed == [4] and projected == pytest.approx(1.15 * (4 * 12.0 + 2 * 5.0))


def test_the_planner_tries_a_smaller_stack_then_the_next_group_before_stopping(tmp_path, monkeypatch):
    """The most wanted group (3 epochs) does not fit 60 s even as one run; the next group (1 epoch) does: the
    allocation trains it rather than stop, and stops only when nothing fits."""
    long_ = [_tiny(3, seed=s) for s in range(2)]
    short = [_tiny(1, seed=s) for s in range(2)]
    clock = FakeClock()
    probed = []

    def probe(stack, device):
        probed.append((stack[0].epochs, len(stack)))
        return 5.0                                                   # 4 steps an epoch: 60 s for one long run

    group = fake_group(clock, lambda st: 30.0, step_s=5.0)
    monkeypatch.setattr(run, "run_group", group)
    alloc = allocate.run_allocation(tmp_path / "out", 1, "cpu", runs_root=tmp_path / "runs", specs=long_ + short,
                                    probe=probe, clock=clock)
    assert probed == [(3, 2), (3, 1)]                                 # the head group at 2, then at 1: neither fits
    assert group.calls == [[s.key for s in short]]                    # the next group, without another probe
    assert [f["key"] for f in alloc.finished] == [s.key for s in short]
    assert alloc.events[-1].split("s  ", 1)[1].startswith("stop: 30 s left, not enough for one more run")


def test_an_out_of_memory_probe_halves_the_stack():
    specs = [_tiny(1, seed=s) for s in range(8)]
    alloc = allocate.Allocation(None, 600.0, clock=FakeClock())
    probed = []

    def probe(stack, device):
        probed.append(len(stack))
        if len(stack) > 3:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return 1.0

    stack, _ = allocate.plan_stack(specs, alloc, "cpu", eval_s=5.0, probe=probe)
    assert probed == [8, 4, 2] and len(stack) == 3                   # below the smallest size that did not fit
    assert alloc.steps.too_big[allocate.step_key(specs[0])] == 4
    with pytest.raises(RuntimeError, match="no batching rule"):       # any other failure is not taken for memory
        allocate.plan_stack([_tiny(2)], allocate.Allocation(None, 600.0), "cpu", 5.0,
                            probe=lambda s, d: (_ for _ in ()).throw(RuntimeError("no batching rule")))


def test_an_abandoned_or_out_of_memory_stack_is_tried_smaller(tmp_path, monkeypatch):
    specs = [_tiny(2, seed=s) for s in range(4)]
    clock = FakeClock()
    tried = []

    def fail(stack, i):
        if i == 0:
            tried.append(len(stack))
            if len(stack) == 4:
                raise multirun.DeadlineExceeded("4 x small_cnn: 1 epochs left would pass the deadline")
            if len(stack) == 2 and tried.count(2) == 1:
                raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(run, "run_group", fake_group(clock, lambda st: 5.0, step_s=0.5, fail=fail))
    alloc = allocate.run_allocation(tmp_path / "out", 10, "cpu", runs_root=tmp_path / "runs", specs=specs,
                                    probe=lambda s, d: 0.5, clock=clock)
    assert tried == [4, 2, 1, 1, 1, 1]                 # abandoned at 4: at most 2; out of memory at 2: at most 1
    assert sorted(f["key"] for f in alloc.finished) == sorted(s.key for s in specs)


def test_a_group_the_engine_fails_on_trains_one_run_at_a_time_and_the_others_stay_stacked(tmp_path, monkeypatch):
    from thesis_lib.runs import execute

    failing = [_tiny(1, seed=s) for s in range(2)]
    others = [_tiny(2, seed=s) for s in range(2)]
    clock = FakeClock()

    def fail(stack, i):
        if stack[0].epochs == 1:
            raise TypeError("expected Tensor as element 0 in argument 0, but got tuple")

    def single(spec, device=None):
        clock.t += 5.0
        return {**_fake_record(spec, 0.5), "engine": "single"}

    group = fake_group(clock, lambda st: 5.0, step_s=0.5, fail=fail)
    monkeypatch.setattr(run, "run_group", group)
    monkeypatch.setattr(execute, "execute", single)
    alloc = allocate.run_allocation(tmp_path / "out", 10, "cpu", runs_root=tmp_path / "runs",
                                    specs=failing + others, probe=lambda s, d: 0.5, clock=clock)
    engines = {f["key"]: f["engine"] for f in alloc.finished}
    assert engines == {**{s.key: "single" for s in failing}, **{s.key: "multi (fake)" for s in others}}
    assert group.calls == [[s.key for s in failing], [s.key for s in others]]   # the failing group tried once
    assert len(_members(tmp_path / "out" / "runs.tar")) == 8


def test_given_step_times_replace_the_first_probe():
    alloc = allocate.Allocation(None, 600.0, clock=FakeClock(), step_times=allocate.StepTimes({"small_cnn": {4: 1.0}}))
    stack, _ = allocate.plan_stack([_tiny(1, seed=s) for s in range(4)], alloc, "cpu", 5.0,
                                   probe=lambda s, d: pytest.fail("probed although a step time was given"))
    assert len(stack) == 4


def test_step_time_estimates_are_linear_in_k_and_conservative_outside():
    st = allocate.StepTimes()
    key = ("3", "m", 32)
    assert st.estimate(key, 4) is None
    st.add(key, 8, 0.08, "probe")
    assert st.estimate(key, 4) == pytest.approx(0.08)                # a smaller stack is not slower
    assert st.estimate(key, 16) == pytest.approx(0.16)               # one point: grows in proportion
    st.add(key, 32, 0.14, "probe")
    assert st.estimate(key, 20) == pytest.approx(0.11)               # between two: on the line
    assert st.estimate(key, 64) == pytest.approx(0.22)               # past them: the line continued
    assert st.estimate(key, 2) == pytest.approx(0.065)               # below them: the line continued down
    steep = ("3", "n", 32)
    st.add(steep, 8, 0.08, "probe")
    st.add(steep, 9, 0.16, "stack")
    assert st.estimate(steep, 4) == pytest.approx(0.04)              # ... but never faster per run than measured
    st.add(key, 8, float("nan"), "probe")                            # a failed measurement changes nothing
    assert st.estimate(key, 8) == pytest.approx(0.08)


# ---------------------------------------------------------------- CUDA-graph self-check

@pytest.mark.parametrize("verdict", ["raises", "mismatch", "ok"])
def test_a_failed_graph_self_check_turns_capture_off_and_the_allocation_goes_on(tmp_path, monkeypatch, verdict):
    clock = FakeClock()
    switched, checked = [], []

    def self_check(make_model, device):
        checked.append(type(make_model()).__name__)                  # the engine gets a factory, not a name
        if verdict == "raises":
            raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
        return verdict == "ok", "captured vs eager: max |dw| = 1e-3"

    monkeypatch.setattr(allocate, "_uses_cuda", lambda device: True)
    monkeypatch.setattr(multirun, "graph_self_check", self_check)
    monkeypatch.setattr(multirun, "set_graphs", lambda name, enabled: switched.append((name, enabled)))
    monkeypatch.setattr(run, "run_group", fake_group(clock, lambda st: 5.0, step_s=0.5))
    specs = [_tiny(1, seed=0), _tiny(2, seed=0)]                     # two groups of one architecture
    alloc = allocate.run_allocation(tmp_path / "out", 10, "cuda", runs_root=tmp_path / "runs", specs=specs,
                                    probe=lambda s, d: 0.5, clock=clock)
    assert checked == [type(get_model("small_cnn")).__name__]          # once per architecture
    assert switched == ([] if verdict == "ok" else [("small_cnn", False)])
    assert alloc.graph_checks["small_cnn"]["graphs"] is (verdict == "ok")
    assert len(alloc.finished) == 2
    summary = json.loads((tmp_path / "out" / "allocation.json").read_text())
    assert summary["graph_checks"]["small_cnn"]["graphs"] is (verdict == "ok")


def test_no_graph_self_check_on_a_cpu(tmp_path, monkeypatch):
    clock, engine_check = FakeClock(), multirun.graph_self_check
    monkeypatch.setattr(multirun, "graph_self_check", lambda *a: pytest.fail("checked on a CPU"))
    monkeypatch.setattr(run, "run_group", fake_group(clock, lambda st: 5.0, step_s=0.5))
    alloc = allocate.run_allocation(None, 10, "cpu", runs_root=tmp_path / "runs", specs=[_tiny(1)],
                                    probe=lambda s, d: 0.5, clock=clock)
    assert alloc.graph_checks == {} and len(alloc.finished) == 1
    # and the engine's own check says "eager" on a CPU rather than capture anything
    assert engine_check(lambda: get_model("small_cnn"), "cpu") == (False, "cpu: eager")


# ---------------------------------------------------------------- the round trip, end to end

def test_a_smoke_allocation_returns_at_most_8_files_and_imports_back_the_same(tmp_path, capsys):
    """The proof without a GPU: a smoke allocation on the CPU (real probe, real training), what it returns, and
    the import of it into a clean run cache."""
    out, root, clean = tmp_path / "out", tmp_path / "runs", tmp_path / "clean"
    assert allocate.main(["--profile", "smoke", "--device", "cpu", "--minutes", "3", "--limit", "2",
                          "--out", str(out), "--runs-root", str(root), "--peak-tflops", "2.5"]) == 0
    printed = capsys.readouterr().out
    assert "plan: 2 x small_cnn (ch 3)" in printed
    files, depth = _returned(out)
    assert len(files) <= 8 and depth <= 2, files
    assert sorted(p.name for p in files) == ["allocation.json", "runs.tar"]
    summary = json.loads((out / "allocation.json").read_text())
    assert summary["runs_finished"] == 2 and summary["peak_tflops"] == 2.5 and summary["profile"] == "smoke"
    assert summary["fraction_of_peak"] == pytest.approx(summary["achieved_tflops"] / 2.5)
    assert allocate.main(["--import", str(out), "--runs-root", str(clean)]) == 0
    assert "2 imported, 0 already present, 0 rejected" in capsys.readouterr().out
    made = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(clean) for p in clean.rglob("*") if p.is_file()) and len(made) == 4
    for rel in made:
        assert (clean / rel).read_bytes() == (root / rel).read_bytes()
    # a tampered copy is named and refused, with a non-zero exit
    with tarfile.open(out / "runs.tar") as tf:
        members = [(m, tf.extractfile(m).read()) for m in tf]
    bad = tmp_path / "bad"
    bad.mkdir()
    with tarfile.open(bad / "runs.tar", "w") as tf:
        for m, data in members:
            if m.name.endswith(".json"):
                data = data.replace(b'"accuracy": 0.', b'"accuracy": 1.', 1)
                m.size = len(data)
            tf.addfile(m, io.BytesIO(data))
    assert allocate.main(["--import", str(bad), "--runs-root", str(tmp_path / "clean2")]) == 1
    text = capsys.readouterr().out
    assert "0 imported, 0 already present, 2 rejected" in text and text.count("checksum does not match") == 2


def test_priority_works_at_the_smoke_profile():
    specs = allocate.priority("smoke")
    every = {s.key for s in grids.build_tables("smoke", catalogue.table_ids()).specs()}
    assert {s.key for s in specs} == every and len(specs) == len(every)
    assert {s.profile for s in specs} == {"smoke"} and [s.chapter for s in specs] == sorted(s.chapter for s in specs)
    with pytest.raises(ValueError, match="unknown profile"):
        allocate.priority("fast")


def test_cli_names_bad_import_and_bad_values(tmp_path, capsys):
    assert allocate.main(["--import", str(tmp_path / "nothing")]) == 2
    assert "neither an archive nor a folder" in capsys.readouterr().err
    assert allocate.main(["--import", str(tmp_path)]) == 2
    assert "no runs.tar" in capsys.readouterr().err
    assert allocate.main(["--out", str(tmp_path), "--limit", "0"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        allocate.main(["--out", str(tmp_path), "--step-time", "resnet34a:0.09"])
    assert "MODEL:K:SECONDS" in capsys.readouterr().err
