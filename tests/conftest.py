"""Shared fixtures. Tests that read real data use the source the library resolves (``THESIS_DATA_DIR``, else the
offline mirror beside the checkout: :func:`thesis_lib.data.registry.mirror_dir`); synthetic data appear only in
unit tests of pure functions and in the online-path test (tests/test_data_registry.py), which serves the real
small files and a synthetic CIFAR-10 archive from a local HTTP server."""

import os
import shutil
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from thesis_lib.data import registry

#: pytest's exit status when the session stops for want of data
DATA_MISSING_EXIT = 3
#: seconds the session start waits for the data's hosts to answer before it calls the machine offline
NETWORK_CHECK_TIMEOUT = 4.0


def _reachable(hosts, timeout: float = NETWORK_CHECK_TIMEOUT) -> set[str]:
    """The hosts that accept a TCP connection on port 443 within ``timeout`` seconds (name look-ups included: each
    runs in a daemon thread, so a hanging resolver cannot hang the session)."""
    ok: set[str] = set()

    def probe(host):
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            ok.add(host)
        except OSError:
            pass

    threads = [threading.Thread(target=probe, args=(h,), daemon=True) for h in hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return set(ok)


def missing_data(reachable=_reachable) -> str | None:
    """Why the tests cannot read the thesis's data, or None when they can; quick: files are only looked for (their
    checksums are the tests' business), and the network is only probed when something is not cached."""
    try:
        mirror = registry.mirror_dir()
    except registry.DataError as err:        # THESIS_DATA_DIR names no directory
        return str(err)
    if mirror is not None:
        gone = [p for p in registry.required_sources() if not (mirror / p).is_file()]
        if gone:
            return (f"the data mirror {registry.ENV_MIRROR}={mirror} lacks {len(gone)} file(s): "
                    f"{', '.join(gone[:4])}{' ...' if len(gone) > 4 else ''}")
        return None
    cache = registry.cache_dir()
    need = [p for p in registry.required_sources() if not (cache / p).is_file()]
    if not need:
        return None
    urls = [registry.CIFAR10_ARCHIVE_URL if p == registry.CIFAR10_ARCHIVE else registry.SOURCES[p].url for p in need]
    hosts = {urlparse(u).hostname if "://" in u else "github.com" for u in urls if u}   # gensim-data: GitHub
    down = set(hosts) - reachable(hosts)
    if down:
        return (f"no offline mirror is set and {len(need)} data file(s) are not downloaded yet "
                f"(e.g. {need[0]}), but {', '.join(sorted(down))} cannot be reached (no network?)")
    return None


def data_message(reason: str) -> str:
    return (f"The tests need the thesis's data and cannot get it: {reason.rstrip('.')}.\n"
            f"Provide it in one of two ways:\n"
            f"  1. online: leave {registry.ENV_MIRROR} unset (or set {registry.ENV_MIRROR}={registry.DOWNLOAD}) on a "
            f"machine with internet access; every file is downloaded once from its original publisher into "
            f"{registry.cache_dir()} ({registry.ENV_CACHE});\n"
            f"  2. offline: set {registry.ENV_MIRROR}=/path/to/mirror, a data mirror laid out like shared/data "
            f"(or put one at ../shared/data beside the checkout).\n"
            f"(THESIS_TESTS_SKIP_DATA_CHECK=1 runs the tests anyway: those that need no data pass, the others fail.)")


def pytest_sessionstart(session):
    """Check once, before any test, that the data can be read: offline without a mirror, the session stops with
    one message naming what is missing and the two ways to provide it, instead of one network traceback per
    test. ``THESIS_TESTS_SKIP_DATA_CHECK=1`` turns the check off."""
    if os.environ.get("THESIS_TESTS_SKIP_DATA_CHECK") == "1" or session.config.option.collectonly:
        return
    reason = missing_data()
    if reason:
        import sys

        sys.stderr.write("\n" + data_message(reason) + "\n\n")
        pytest.exit("stopped: the thesis's data are not available (see above)", returncode=DATA_MISSING_EXIT)


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
