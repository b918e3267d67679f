"""Shared fixtures. Tests that read real data use the source the library resolves (``THESIS_DATA_DIR``, else the
offline mirror beside the checkout: :func:`thesis_lib.data.registry.mirror_dir`); synthetic data appear only in
unit tests of pure functions and in the online-path test (tests/test_data_registry.py), which serves the real
small files and a synthetic CIFAR-10 archive from a local HTTP server."""

import os
import shutil
from pathlib import Path

import pytest

from thesis_lib.data import registry


@pytest.fixture
def mirror_copy(tmp_path, monkeypatch):
    """A private copy of the mirror (symlinks, so it is cheap) that a test may damage, selected via
    THESIS_DATA_DIR. Returns a function ``replace(rel_path) -> Path`` giving a writable real copy of a file."""
    src = registry.mirror_dir()
    if src is None:
        pytest.fail("this test needs the data mirror: set THESIS_DATA_DIR to it (or put it at ../shared/data)")
    dst = tmp_path / "mirror"
    for f in src.rglob("*"):
        if f.is_file():
            (dst / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(f, dst / f.relative_to(src))
    monkeypatch.setenv(registry.ENV_MIRROR, str(dst))

    def replace(rel: str) -> Path:
        target = dst / rel
        target.unlink()
        shutil.copyfile(src / rel, target)
        return target

    return replace
