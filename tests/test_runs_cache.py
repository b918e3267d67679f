"""Nothing silently wrong (issue 16): validated run records, determinism independent of --jobs, bad values refused
before training, outputs checked writable before the work and written atomically, claims on runs in progress."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from thesis_lib.runs import cache
from thesis_lib.chapters.ch3 import plots
from thesis_lib.cli import preflight
from thesis_lib.cli import run as run_cli
from thesis_lib.runs import run
from thesis_lib.reporting import tables  # noqa: E402
from thesis_lib.data import DataError, registry  # noqa: E402
from thesis_lib.runs.spec import make_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVAL_SETS = {3: ("cifar10h", "cifar10s"), 4: ("cifar10h",), 5: ("cifar10h",), 0: ("validation",)}  # 0: validation
METRIC = {"ce": 1.5, "accuracy": 0.5, "calibration": 0.1, "fgsm_loss": 2.5, "n": 100.0}


def fake_record(spec) -> dict:
    """A well-formed record of ``spec`` as :func:`thesis_lib.runs.run.execute` returns it (no training)."""
    return {"key": spec.key, "spec": spec.as_dict(), "label": spec.label(), "profile": spec.profile,
            "metrics": {name: dict(METRIC) for name in EVAL_SETS[spec.chapter if not spec.validation else 0]},
            "curve": [{"epoch": 1, "loss": 2.0, "seconds": 0.1}], "wall_time_s": 1.0, "device": "cpu (test, 1 threads)",
            "image_provenance": {"source": spec.images}}


def _spec(seed=0, **kw):
    return make_spec(3, "T2Clamp", None, seed, "smoke", images="mirror_reconstruction", **kw)


def _no_training(monkeypatch):
    monkeypatch.setattr(run, "execute", lambda *a, **k: pytest.fail("trained although it should have been refused"))


# ---------------------------------------------------------------- 1. cached records are validated on load

def _edit(path, fn):
    record = json.loads(path.read_text())
    fn(record)
    path.write_text(json.dumps(record))


def _recompute(fn):
    """An edit that also recomputes the checksum (a damaged record with a self-consistent checksum)."""
    def edit(record):
        fn(record)
        if hasattr(cache, "checksum"):
            record["checksum"] = cache.checksum(record)
    return edit


DAMAGE = {
    "edited metric": lambda p: _edit(p, lambda r: r["metrics"]["cifar10h"].update(ce=0.01)),
    "NaN metric": lambda p: p.write_text(p.read_text().replace('"ce": 1.5', '"ce": NaN', 1)),
    "empty object": lambda p: p.write_text("{}"),
    "a list": lambda p: p.write_text("[]"),
    "null metrics": lambda p: _edit(p, _recompute(lambda r: r.update(metrics=None))),
    "empty metrics": lambda p: _edit(p, _recompute(lambda r: r.update(metrics={}))),
    "NaN metric, checksum recomputed": lambda p: _edit(p, _recompute(
        lambda r: r["metrics"]["cifar10s"].update(calibration=float("nan")))),
    "string metric": lambda p: _edit(p, _recompute(lambda r: r["metrics"]["cifar10s"].update(accuracy="0.9"))),
    "missing eval set": lambda p: _edit(p, _recompute(lambda r: r["metrics"].pop("cifar10s"))),
    "missing metric": lambda p: _edit(p, _recompute(lambda r: r["metrics"]["cifar10h"].pop("fgsm_loss"))),
    "spec of another run": lambda p: _edit(p, _recompute(lambda r: r["spec"].update(seed=1))),
    "no checksum": lambda p: _edit(p, lambda r: r.pop("checksum")),
    "invalid UTF-8": lambda p: p.write_bytes(p.read_bytes()[:40] + b"\xff\xfe" + p.read_bytes()[40:]),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:50]),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_record_is_named_set_aside_and_not_loaded(tmp_path, damage):
    spec = _spec()
    path = cache.save(spec, fake_record(spec), tmp_path)
    assert cache.load(spec, tmp_path)["metrics"]["cifar10h"] == METRIC      # whole, it loads
    DAMAGE[damage](path)
    damaged = path.read_bytes()
    with pytest.warns(UserWarning, match=path.name):  # a cache.RecordWarning
        assert cache.load(spec, tmp_path) is None
    assert not path.exists()
    aside = list(path.parent.glob(f"{path.name}.rejected-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged           # kept, never deleted


def test_grid_retrains_a_rejected_record_and_tables_never_see_it(tmp_path, monkeypatch):
    spec = _spec()
    trained = []
    monkeypatch.setattr(run, "execute", lambda s, *a, **k: trained.append(s.key) or fake_record(s))
    assert run.run_grid([spec], progress=False, runs_root=tmp_path)[0]["metrics"]["cifar10h"]["ce"] == METRIC["ce"]
    path = cache.path_for(spec, tmp_path)
    path.write_text(path.read_text().replace('"ce": 1.5', '"ce": 0.001', 1))   # a "better" number, edited in
    with pytest.warns(UserWarning, match="checksum"):
        out = run.run_grid([spec], progress=False, runs_root=tmp_path)
    assert trained == [spec.key, spec.key] and out[0]["metrics"]["cifar10h"]["ce"] == METRIC["ce"]
    assert cache.load(spec, tmp_path)["metrics"]["cifar10h"]["ce"] == METRIC["ce"]


def test_every_committed_record_is_valid():
    records = sorted((ROOT / "results" / "runs" / "full").glob("*.json"))
    for path in records:  # none may exist yet: then there is nothing to check
        cache.read_record(path)
    bad = {"key": "0" * 20}
    with pytest.raises(cache.RecordError):   # the check itself can fail
        cache.validate(bad, "0" * 20)


def test_cache_files_are_readable_by_everyone(tmp_path):
    spec = _spec()
    path = cache.save(spec, fake_record(spec), tmp_path)
    assert path.stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------- 2. CPU numbers do not depend on --jobs

def test_cpu_run_numbers_do_not_depend_on_the_callers_thread_count(tmp_path):
    spec = _spec()   # the real smoke spec: its numbers differ between 1 and 2 PyTorch threads
    before = torch.get_num_threads()
    records = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            records.append(run.run_spec(spec, device="cpu", force=True, runs_root=tmp_path))
            assert torch.get_num_threads() == threads          # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    a, b = records
    assert a["metrics"] == b["metrics"] and a["curve"][-1]["loss"] == b["curve"][-1]["loss"]
    assert a["device"] == b["device"] and f"{run.CPU_THREADS} threads" in a["device"]


def test_grid_workers_run_cpu_specs_at_the_fixed_thread_count(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(run, "execute", lambda s, *a, **k: seen.append(torch.get_num_threads()) or fake_record(s))
    before = torch.get_num_threads()
    try:
        for jobs_threads in (1, 2):  # what _worker_init gives a worker under --jobs 2 / --jobs 1 on 2 cores
            run._worker_init(jobs_threads, 1.0)
            run.run_spec(_spec(seed=jobs_threads), device="cpu", runs_root=tmp_path)
    finally:
        torch.set_num_threads(before)
    assert len(seen) == 2 and seen[0] == seen[1]


# ---------------------------------------------------------------- 3. bad values refused before training

@pytest.mark.parametrize("args, field", [(["--annotators", "0"], "annotators"), (["--epochs", "0"], "epochs"),
                                         (["--n-soft", "0"], "n_soft"), (["--seed", "-1"], "seed"),
                                         (["--gamma", "nan"], "gamma"), (["--beta", "-0.1"], "beta")])
def test_cli_refuses_bad_values_before_training(tmp_path, monkeypatch, capsys, args, field):
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path))
    _no_training(monkeypatch)
    assert run_cli.main(["--chapter", "3", "--label-method", "T2Clamp", "--deaggregate", *args]) == 2
    assert field in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))


def test_make_spec_refuses_values_that_would_train_something_else():
    for bad in (dict(annotators=0), dict(epochs=0), dict(batch_size=0), dict(lr=float("nan")), dict(lr=0.0),
                dict(train_subset=0), dict(milestones=(-1,)), dict(weight_decay=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            _spec(**bad)
    assert _spec(annotators=2, epochs=1).annotators == 2


def _run_all(tmp_path, *args):
    env = dict(os.environ, THESIS_RESULTS_DIR=str(tmp_path / "results"), THESIS_FIGURES_DIR=str(tmp_path / "figures"),
               THESIS_RUNS_DIR=str(tmp_path / "runs"))
    return subprocess.run([str(ROOT / "run_all.sh"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--profile", ""], "--profile needs"),
    (["--profile", "smoke", "--only", "03", "09"], "no notebook matched --only 09"),
    (["--profile", "smoke", "--only"], "--only needs at least one notebook"),
    (["--profile", "smoke", "--only", "--jobs", "1"], "--only needs at least one notebook"),
    (["--profile", "smoke", "-p", "profile", "quick"], "-p profile is not allowed"),
    (["--profile", "smoke", "-p", "jobs", "4"], "-p jobs is not allowed"),
    (["--profile", "smoke", "-p", "seeds", "abc"], "bad value for notebook parameter 'seeds'"),
    (["--profile", "smoke", "-p", "tune", "maybe"], "bad value for notebook parameter 'tune'"),
])
def test_run_all_refuses_bad_command_lines_before_any_notebook(tmp_path, args, message):
    out = _run_all(tmp_path, *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr[-2000:]
    assert not (tmp_path / "results" / "notebooks").exists()   # nothing ran


def test_preflight_parses_parameter_values_to_their_types():
    params, errors = preflight.parse_params(["seeds", "[0, 1]", "models", "small_cnn resnet34a", "tune", "True",
                                             "gamma", "1e-5", "tables", "3.1,B.2"],
                                            {"seeds", "models", "tune", "gamma", "tables"})
    assert not errors and params == {"seeds": [0, 1], "models": ["small_cnn", "resnet34a"], "tune": True,
                                     "gamma": 1e-5, "tables": ["3.1", "B.2"]}
    assert preflight.parse_params(["seeds", "0 1"], {"seeds"})[0] == {"seeds": [0, 1]}


# ---------------------------------------------------------------- 4. outputs: writable before the work, atomic

def _unwritable(tmp_path) -> Path:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder must go: nothing can be created under it, even by root")
    return blocker / "runs"


def test_cli_checks_the_cache_is_writable_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THESIS_RUNS_DIR", str(_unwritable(tmp_path)))
    _no_training(monkeypatch)
    assert run_cli.main(["--chapter", "3", "--label-method", "hard"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_grid_checks_the_cache_is_writable_before_training(tmp_path, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(OSError, match="not writable"):
        run.run_grid([_spec()], progress=False, runs_root=_unwritable(tmp_path))


def test_grid_command_checks_the_cache_is_writable_before_training(tmp_path, monkeypatch, capsys):
    from thesis_lib.cli import grid

    monkeypatch.setenv("THESIS_RUNS_DIR", str(_unwritable(tmp_path)))
    _no_training(monkeypatch)
    assert grid.main(["--chapter", "4", "--tables", "4.2", "--profile", "smoke", "--device", "cpu"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_a_full_disk_is_found_before_training(tmp_path, monkeypatch):
    import errno

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    _no_training(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        run.run_grid([_spec()], progress=False, runs_root=tmp_path)


def test_run_all_checks_output_folders_before_any_notebook(tmp_path):
    env = dict(os.environ, THESIS_RESULTS_DIR=str(_unwritable(tmp_path)), THESIS_FIGURES_DIR=str(tmp_path / "fig"))
    out = subprocess.run([str(ROOT / "run_all.sh"), "--profile", "smoke", "--only", "03"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "not writable" in out.stderr, out.stderr[-2000:]


def test_tables_and_figures_are_written_atomically(tmp_path, monkeypatch):
    frame = pd.DataFrame([{"group": "", "row": "Hard", "metric": "ce", "ours": 1.0, "ours_ci": 0.1, "n": 1,
                           "thesis": 1.1, "thesis_ci": 0.1, "difference": -0.1, "thesis_in_ci": True}])
    records = [fake_record(_spec())]
    csv = tables.write("3.1", frame, records, tmp_path)
    before = csv.read_bytes()

    def half_then_fail(self, path, *a, **k):
        Path(path).write_text("method,c")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    with pytest.raises(OSError):
        tables.write("3.1", frame, records, tmp_path)
    assert csv.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["table_3_1.csv",
                                                                                          "table_3_1.md"]
    with pytest.raises(OSError):  # the notebooks' own CSVs
        tables.write_csv(frame, csv)
    assert csv.read_bytes() == before and len(list(tmp_path.iterdir())) == 2
    fig = plt.figure()
    png = plots.save(fig, "f", tmp_path / "figs")
    before = png.read_bytes()
    def half_png(path, **k):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", half_png)
    with pytest.raises(OSError):
        plots.save(fig, "f", tmp_path / "figs")
    plt.close(fig)
    assert png.read_bytes() == before and [p.name for p in (tmp_path / "figs").iterdir()] == ["f.png"]


# ---------------------------------------------------------------- 5. data checks, claims

def test_preflight_checks_a_corrupt_cifar10_archive(mirror_copy):
    archive = registry.mirror_dir() / registry.CIFAR10_ARCHIVE
    archive.write_bytes(b"not a tarball")
    problems = registry.verify_all()
    assert any("cifar-10-python.tar.gz" in p and "Checksum mismatch" in p for p in problems), problems


@pytest.mark.parametrize("column, value", [("rt", "fast"), ("img_id", "cat"), ("img_id", "3.5")])
def test_non_numeric_cifar10s_trial_fields_are_named_errors(tmp_path, monkeypatch, column, value):
    from thesis_lib.data import cifar10s

    src = registry.locate("cifar10s/raw_human_data.csv")
    raw = pd.read_csv(src, low_memory=False)
    row = raw.index[raw.trial_type == cifar10s.ELICITATION_TRIAL][5]
    raw[column] = raw[column].astype(object)
    raw.loc[row, column] = value
    damaged = tmp_path / "raw_human_data.csv"
    raw.to_csv(damaged, index=False)
    monkeypatch.setattr(registry, "locate", lambda p: damaged if p.endswith("raw_human_data.csv") else src)
    with pytest.raises(DataError, match=rf"{column} is not .*data row {row + 1}: '?{value}'?"):
        cifar10s.load_trials()


def _claim_holder(tmp_path, then: str):
    return subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from thesis_lib.runs import cache; from thesis_lib.runs.spec import make_spec\n"
        "spec = make_spec(3, 'T2Clamp', None, 0, 'smoke', images='mirror_reconstruction')\n"
        f"with cache.claim(spec, {str(tmp_path)!r}):\n"
        f"    print('claimed', flush=True); {then}\n")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def _claim_path(spec, root):
    return cache.path_for(spec, root).with_suffix(".claim")


def test_a_run_another_process_is_training_is_waited_for_not_trained_twice(tmp_path, monkeypatch):
    """A second grid wanting a run that a live process is training waits; when that process dies (SIGKILL), its
    claim is released at once and the run trains here."""
    spec = make_spec(3, "hard", None, 0, "smoke", epochs=50)
    holder = subprocess.Popen([sys.executable, "-m", "thesis_lib.run", "--chapter", "3", "--label-method", "hard",
                               "--profile", "smoke", "--epochs", "50"], cwd=ROOT,
                              env=dict(os.environ, THESIS_RUNS_DIR=str(tmp_path), PYTHONPATH=str(ROOT)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not _claim_path(spec, tmp_path).exists():   # the other process has started training it
            assert holder.poll() is None and time.monotonic() < deadline, "the holder never claimed its run"
            time.sleep(0.2)
        _no_training(monkeypatch)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=run.run_spec(spec, device="cpu", runs_root=tmp_path)))
        t.start()
        time.sleep(2)
        assert t.is_alive() and holder.poll() is None   # waiting for the other process, not training it again
        monkeypatch.setattr(run, "execute", lambda s, *a, **k: fake_record(s))
        holder.kill()
        t.join(timeout=60)
        assert not t.is_alive() and result["r"]["key"] == spec.key   # the killed holder's claim did not block
    finally:
        holder.kill()
        holder.wait()
    assert not _claim_path(spec, tmp_path).exists()


def test_a_claim_left_by_a_killed_process_does_not_block(tmp_path, monkeypatch):
    spec = _spec()
    holder = _claim_holder(tmp_path, "time.sleep(600)")
    assert holder.stdout.readline().strip() == "claimed"
    holder.kill()
    holder.wait()
    assert _claim_path(spec, tmp_path).exists()       # the killed process left its claim file behind
    monkeypatch.setattr(run, "execute", lambda s, *a, **k: fake_record(s))
    result = {}
    t = threading.Thread(target=lambda: result.update(r=run.run_spec(spec, device="cpu", runs_root=tmp_path)))
    t.start()
    t.join(timeout=30)
    assert not t.is_alive() and result["r"]["key"] == spec.key
    assert not _claim_path(spec, tmp_path).exists()
