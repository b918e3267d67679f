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

    from thesis_lib.training import corruptions
    from thesis_lib.cli import preflight
    from thesis_lib.runs.execute import prepare
    from thesis_lib.runs.spec import make_spec

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "imagecorruptions" else real(name, *a))
    corruptions._frost_textures.cache_clear()
    try:
        with pytest.raises(NotImplementedError, match="pip install --no-deps imagecorruptions"):
            prepare(make_spec(5, "mixup", None, 0, "smoke", epochs=1), "cpu")
        nb = str(profiles.repo_root() / "notebooks" / "05_soft_mixup.ipynb")
        assert preflight.main(["smoke", nb]) == 2
        assert "frost" in capsys.readouterr().err
    finally:
        corruptions._frost_textures.cache_clear()
