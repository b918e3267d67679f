"""The Ray backend: smoke-profile runs trained as tasks on a local Ray instance, saved by the driver to the cache."""

import math
import os

import pytest

from thesis_lib.runs import ray_backend
from thesis_lib.runs.run import run_grid
from thesis_lib.runs.spec import make_spec

ray = pytest.importorskip("ray")


def _spec(method, seed=0, **over):
    return make_spec(3, method, None, seed, "smoke", train_subset=300, eval_subset=200, **over)


def _finite_metrics(record):
    values = [v for per_set in record["metrics"].values() for v in per_set.values() if isinstance(v, float)]
    return values and all(math.isfinite(v) for v in values)


def test_ray_trains_uncached_specs_into_the_cache_names_a_failure_and_then_trains_nothing(tmp_path, monkeypatch):
    specs = [_spec("hard"), _spec("uniform")]
    bad = _spec("hard", seed=1, images="official")  # the mirror gives reconstructions: fails inside its task
    with pytest.raises(RuntimeError, match=r"1 of 3 Ray run\(s\) failed: ch3 hard small_cnn seed=1") as err:
        ray_backend.run_grid_ray([*specs, bad], device="cpu", progress=False, runs_root=tmp_path)  # starts local Ray
    assert "spec expects official images" in str(err.value)
    assert not ray.is_initialized(), "the Ray instance it started is shut down"
    files = sorted((tmp_path / "smoke").glob("*.json"))
    assert [f.stem for f in files] == sorted(s.key for s in specs), "the good runs are saved, the failed one not"
    mtimes = {f: f.stat().st_mtime_ns for f in files}

    def no_ray(*a, **k):
        raise AssertionError("Ray started although every spec is cached")

    monkeypatch.setattr(ray, "init", no_ray)
    monkeypatch.setenv("THESIS_BACKEND", "ray")
    records = run_grid(specs, device="cpu", progress=False, runs_root=tmp_path)  # through run_grid's dispatch
    assert {f: f.stat().st_mtime_ns for f in files} == mtimes
    assert [r["key"] for r in records] == [s.key for s in specs]
    assert [r["label"] for r in records] == [s.label() for s in specs]
    assert all(_finite_metrics(r) and r["n_train"] == 300 and r["device"].startswith("cpu (") and r["device_share"] == 1.0
               for r in records)


def test_a_ray_session_the_caller_started_is_used_and_left_running(tmp_path):
    bad = _spec("hard", images="official")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        with pytest.raises(RuntimeError, match="spec expects official images"):
            ray_backend.run_grid_ray([bad], device="cpu", progress=False, runs_root=tmp_path)
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert not list(tmp_path.rglob("*.json"))


def test_unknown_backend_and_bad_resources_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown backend 'dask'.*local, ray"):
        run_grid([_spec("hard")], runs_root=tmp_path, backend="dask")
    monkeypatch.setenv("THESIS_BACKEND", "slurm")
    with pytest.raises(ValueError, match="unknown backend 'slurm'"):
        run_grid([_spec("hard")], runs_root=tmp_path)
    with pytest.raises(ValueError, match="cpus_per_run"):
        ray_backend.run_grid_ray([_spec("hard")], runs_root=tmp_path, cpus_per_run=0)
    assert not list(tmp_path.rglob("*.json"))


def test_workers_get_the_data_location_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("THESIS_DATA_DIR", "data")
    monkeypatch.delenv("THESIS_CACHE_DIR", raising=False)
    assert ray_backend.worker_env() == {"THESIS_DATA_DIR": str((tmp_path / "data").resolve())}
    monkeypatch.setenv("THESIS_CACHE_DIR", "cache")
    assert ray_backend.worker_env()["THESIS_CACHE_DIR"] == os.path.join(str(tmp_path), "cache")


def test_workers_get_the_resolved_data_source(tmp_path, monkeypatch):
    """The driver's choice travels: the download opt-out stays one, and a mirror found beside the checkout is
    named explicitly (a worker elsewhere would not find it)."""
    monkeypatch.setenv("THESIS_DATA_DIR", "download")
    assert ray_backend.worker_env()["THESIS_DATA_DIR"] == "download"
    checkout = tmp_path / "checkout"
    (checkout / "thesis_lib").mkdir(parents=True)
    (checkout / "thesis_lib" / "__init__.py").touch()
    (checkout / "notebooks").mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(checkout)
    monkeypatch.delenv("THESIS_DATA_DIR")
    assert ray_backend.worker_env()["THESIS_DATA_DIR"] == str((tmp_path / "shared" / "data").resolve())
