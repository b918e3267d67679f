"""Set-up where users are: outputs go to the checkout the user runs in, a GPU torch cannot use is an error."""

import os
import stat

import pytest

from thesis_lib.core import profiles


def test_outputs_go_to_the_checkout_the_user_runs_in(tmp_path, monkeypatch):
    clone = tmp_path / "second_clone"
    (clone / "thesis_lib").mkdir(parents=True)
    (clone / "thesis_lib" / "__init__.py").write_text("")
    (clone / "notebooks").mkdir()
    monkeypatch.delenv("THESIS_RESULTS_DIR", raising=False)
    monkeypatch.delenv("THESIS_FIGURES_DIR", raising=False)
    monkeypatch.chdir(clone / "notebooks")               # papermill runs a notebook with this working directory
    assert profiles.default_results_dir() == clone / "results"
    assert profiles.default_figures_dir() == clone / "figures"
    monkeypatch.chdir(tmp_path)                          # outside any checkout: the package's own
    assert profiles.default_results_dir() == profiles.Path(profiles.__file__).resolve().parents[1] / "results"


def test_a_gpu_that_torch_cannot_use_is_reported_not_downgraded(tmp_path, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.fail("this test fakes a GPU that torch cannot use; run it where torch sees no CUDA device")
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ValueError, match="NVIDIA H100 80GB HBM3.*cannot use it"):
        profiles.default_profile()
    monkeypatch.setenv("PATH", "/nonexistent")
    assert profiles.default_profile() == "quick"


def test_missing_frost_textures_stop_chapter5_before_training(monkeypatch, tmp_path, capsys):
    """Without imagecorruptions' frost images a Chapter 5 run used to train to the end and die in evaluation."""
    import importlib.util

    from thesis_lib.data import cifar10c
    from thesis_lib.cli import preflight
    from thesis_lib.runs.execute import prepare
    from thesis_lib.runs.spec import make_spec

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "imagecorruptions" else real(name, *a))
    cifar10c._frost_textures.cache_clear()
    try:
        with pytest.raises(NotImplementedError, match="pip install --no-deps imagecorruptions"):
            prepare(make_spec(5, "mixup", None, 0, "smoke", epochs=1), "cpu")
        nb = str(profiles.repo_root() / "notebooks" / "05_soft_mixup.ipynb")
        assert preflight.main(["smoke", nb]) == 2
        assert "frost" in capsys.readouterr().err
    finally:
        cifar10c._frost_textures.cache_clear()


def _env_sh(tmp_path, path=None, **env):
    """``source scripts/env.sh`` in dry-run mode (it says what it would do and builds nothing)."""
    import subprocess

    e = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "THESIS_TORCH_INDEX", "VIRTUAL_ENV")}
    e.update(THESIS_ENV_DRY_RUN="1", THESIS_VENV=str(tmp_path / "venv"), **env)
    if path is not None:
        e["PATH"] = path
    out = subprocess.run(["bash", "-c", f"source {profiles.repo_root() / 'scripts' / 'env.sh'}"], env=e,
                         capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout + out.stderr


def _stub(folder, name, body):
    folder.mkdir(exist_ok=True)
    f = folder / name
    f.write_text("#!/bin/sh\n" + body + "\n")
    f.chmod(f.stat().st_mode | stat.S_IEXEC)
    return f


def test_env_sh_picks_the_cpu_pytorch_without_an_nvidia_gpu(tmp_path):
    import platform
    import shutil

    if platform.system() != "Linux":
        pytest.skip("the CPU index is chosen on Linux only (PyPI's macOS and Windows wheels are CPU builds already)")
    with_gpu = _stub(tmp_path / "gpu", "nvidia-smi", "echo 'NVIDIA H100'").parent
    rc, out = _env_sh(tmp_path, path=f"{with_gpu}{os.pathsep}{os.environ['PATH']}")
    assert rc == 0 and "PyTorch from PyPI" in out and "whl/cpu" not in out
    if shutil.which("nvidia-smi") is None:
        rc, out = _env_sh(tmp_path)
        assert rc == 0 and "no NVIDIA GPU here" in out and "PyTorch from https://download.pytorch.org/whl/cpu" in out
        rc, out = _env_sh(tmp_path, THESIS_TORCH_INDEX="pypi")        # overridable
        assert rc == 0 and "PyTorch from PyPI" in out and "no NVIDIA GPU" not in out
    rc, out = _env_sh(tmp_path, THESIS_TORCH_INDEX="https://download.pytorch.org/whl/cu126")
    assert rc == 0 and "PyTorch from https://download.pytorch.org/whl/cu126" in out


def test_env_sh_rebuilds_an_environment_made_with_another_python(tmp_path):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    ours = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True).stdout.strip()
    other = _stub(tmp_path / "bin", "python3.13", "echo 3.13.1")         # says it is Python 3.13.1
    rc, out = _env_sh(tmp_path, PYTHON=str(other), THESIS_TORCH_INDEX="pypi")
    assert rc == 0, out
    assert f"was built with Python {ours}, but PYTHON={other} is Python 3.13.1: rebuilding it" in out
    assert "would build" in out and "afresh" in out
    rc, out = _env_sh(tmp_path, PYTHON=sys.executable, THESIS_TORCH_INDEX="pypi")   # the same Python: kept
    assert rc == 0 and "rebuilding" not in out and "afresh" not in out, out
    rc, out = _env_sh(tmp_path, PYTHON=str(tmp_path / "no-such-python"))
    assert rc != 0 and "is not an interpreter found on PATH" in out


def test_missing_data_stops_the_test_session_with_one_message(tmp_path, monkeypatch):
    """Offline without a mirror the suite used to end in dozens of socket tracebacks; now the session stops before
    any test with one message naming what is missing and the two ways to provide it."""
    import subprocess
    import sys

    import conftest

    e = dict(os.environ, THESIS_DATA_DIR=str(tmp_path / "nonexistent"))
    e.pop("THESIS_TESTS_SKIP_DATA_CHECK", None)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          f"{__file__}::test_outputs_go_to_the_checkout_the_user_runs_in"],
                         cwd=profiles.repo_root(), env=e, capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == conftest.DATA_MISSING_EXIT, text
    assert text.count("Provide it in one of two ways") == 1 and "Traceback" not in text and "socket" not in text
    assert "THESIS_DATA_DIR=download" in text and "THESIS_DATA_DIR=/path/to/mirror" in text
    # no mirror and nothing downloaded: the network is probed (here: nothing answers), not waited on per test
    monkeypatch.setenv("THESIS_DATA_DIR", "download")
    monkeypatch.setenv("THESIS_CACHE_DIR", str(tmp_path / "cache"))
    asked = []
    reason = conftest.missing_data(reachable=lambda hosts: asked.extend(hosts) or set())
    assert "cannot be reached" in reason and "github.com" in asked and "www.cs.toronto.edu" in asked
    assert conftest.missing_data(reachable=lambda hosts: set(hosts)) is None       # online: fine
    # a mirror lacking a file names it
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv("THESIS_DATA_DIR", str(tmp_path / "mirror"))
    from thesis_lib.data import registry

    reason = conftest.missing_data()
    assert f"lacks {len(registry.required_sources())} file(s)" in reason and registry.required_sources()[0] in reason
