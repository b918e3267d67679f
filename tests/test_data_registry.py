"""The online data path, end to end, without the internet: a local HTTP server on 127.0.0.1 serves files laid out
like the publishers' (``<host>/<path>`` of each registry URL), and the registry's URLs are pointed at it.

* CIFAR-10H, CIFAR-10S and H-Mix files: the real files, copied from the mirror, so the registry's sha256 must match.
* ``first_collection_batches.js``: synthesised from the mirror's stimulus list (the registry checks the content,
  the list of stimulus names, not the bytes of the script).
* the CIFAR-10 archive: a synthetic archive of the official format (``cifar-10-batches-py/test_batch``, a pickled
  dict with ``b'data'`` uint8 (10000, 3072) and ``b'labels'``) with random pixels; its md5 is not the official one,
  so the registry's archive URL and md5s are pointed at it.
* GloVe: gensim's downloader cannot be served locally simply, so :func:`thesis_lib.data.derived.glove_vectors`
  (the one network step of the GloVe build) is replaced by the mirror's vectors; the content check still runs.

The mirror beside the checkout (if any) is opted out of with ``THESIS_DATA_DIR=download``; the cache is tmp_path.
"""

import dataclasses
import hashlib
import io
import json
import pickle
import shutil
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from thesis_lib import data
from thesis_lib.data import DataError, derived, registry

N_IMAGES = 10000


def _served_path(url: str) -> str:
    """``https://host/a/b`` -> ``host/a/b``: the layout of the local server's root."""
    parts = urlsplit(url)
    return parts.netloc + parts.path


def _synthetic_archive(rng) -> tuple[bytes, np.ndarray, np.ndarray, str]:
    """A tar.gz of the official format holding ``N_IMAGES`` random images, a tenth of each class in random order;
    returns the archive, its images and labels, and the md5 of its ``test_batch``."""
    images = rng.integers(0, 256, size=(N_IMAGES, 32, 32, 3), dtype=np.uint8)
    labels = rng.permutation(np.arange(N_IMAGES) % 10)
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": [int(x) for x in labels],
             b"data": images.transpose(0, 3, 1, 2).reshape(N_IMAGES, 3072),
             b"filenames": [f"synthetic_{i}.png".encode() for i in range(N_IMAGES)]}
    raw = pickle.dumps(batch, protocol=2)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue(), images, labels, hashlib.md5(raw).hexdigest()


class _Handler(SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self.requested.append(self.path.lstrip("/"))
        super().do_GET()


@pytest.fixture(scope="module")
def publishers(tmp_path_factory):
    """A local server holding the publishers' files; yields (base URL, served root, synthetic CIFAR-10, log)."""
    mirror = registry.mirror_dir()
    if mirror is None:
        pytest.fail("the real files to serve are copied from the data mirror: set THESIS_DATA_DIR to it")
    root = tmp_path_factory.mktemp("publishers")
    for path, source in registry.SOURCES.items():
        if source.url is None or source.url.startswith("gensim-data:"):
            continue
        target = root / _served_path(source.url)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.derived_from is None:
            shutil.copyfile(mirror / path, target)
        else:  # the study's batch script, listing each stimulus by its file name
            names = json.loads((mirror / path).read_text())
            batches = [names[i:i + 27] for i in range(0, len(names), 27)]
            target.write_text("var first_collection_batches = " + json.dumps(
                [[f"stimuli/{n}" for n in b] for b in batches], indent=1) + ";\n")
    archive, images, labels, batch_md5 = _synthetic_archive(np.random.default_rng(0))
    archive_url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    (root / _served_path(archive_url)).parent.mkdir(parents=True, exist_ok=True)
    (root / _served_path(archive_url)).write_bytes(archive)
    # a damaged copy of a real file, for the checksum test
    broken = root / "broken" / "cifar10h-counts.npy"
    broken.parent.mkdir()
    raw = bytearray((mirror / "cifar10h/cifar10h-counts.npy").read_bytes())
    raw[-1] ^= 0xFF
    broken.write_bytes(bytes(raw))

    requested: list[str] = []
    handler = type("Handler", (_Handler,), {"requested": requested})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    synthetic = {"images": images, "labels": labels, "archive_md5": hashlib.md5(archive).hexdigest(),
                 "batch_md5": batch_md5, "archive_url": base + _served_path(archive_url)}
    yield base, root, synthetic, requested
    server.shutdown()
    server.server_close()


@pytest.fixture
def online(publishers, tmp_path, monkeypatch):
    """Online mode against the local server: mirror opted out, a fresh cache, URLs and md5s pointed locally."""
    base, root, synthetic, requested = publishers
    mirror = registry.mirror_dir()
    for path, source in registry.SOURCES.items():
        if source.url is not None and source.url.startswith("https://"):
            monkeypatch.setitem(registry.SOURCES, path,
                                dataclasses.replace(source, url=base + _served_path(source.url)))
    monkeypatch.setattr(registry, "CIFAR10_ARCHIVE_URL", synthetic["archive_url"])
    monkeypatch.setattr(registry, "CIFAR10_ARCHIVE_MD5", synthetic["archive_md5"])
    monkeypatch.setattr(registry, "CIFAR10_TEST_BATCH_MD5", synthetic["batch_md5"])
    glove = json.loads((mirror / "glove/cifar10_class_glove.json").read_text())
    monkeypatch.setattr(derived, "glove_vectors", lambda: glove)
    monkeypatch.setenv(registry.ENV_MIRROR, registry.DOWNLOAD)
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    requested.clear()
    return {"mirror": mirror, "cache": tmp_path / "cache", "requested": requested, **synthetic}


def test_online_needs_no_mirror_only_file_and_every_loader_works(online):
    assert registry.mirror_dir() is None and registry.active_source()[0] == "download"
    needed = registry.required_sources()
    assert registry.CIFAR10_ARCHIVE in needed
    assert not [p for p in needed if p in registry.SOURCES and registry.SOURCES[p].url is None]
    assert registry.verify_all() == []
    # everything came from the server, into the cache; nothing else was asked for
    urls = [registry.SOURCES[p].url for p in needed if p in registry.SOURCES] + [online["archive_url"]]
    served = {urlsplit(u).path.lstrip("/") for u in urls if u.startswith("http://")}
    assert len(served) == len(needed) - 1                              # all but GloVe (gensim's downloader)
    assert set(online["requested"]) == served
    for p in needed:
        assert (online["cache"] / p).is_file(), p

    c = data.load_cifar10_test()
    assert c.provenance.source == "official" and c.provenance.n_exact == N_IMAGES and c.exact_mask.all()
    np.testing.assert_array_equal(c.images, online["images"])
    np.testing.assert_array_equal(c.labels, online["labels"])

    mirror = online["mirror"]
    np.testing.assert_array_equal(data.load_cifar10h_counts(), np.load(mirror / "cifar10h/cifar10h-counts.npy"))
    np.testing.assert_array_equal(data.load_cifar10h_probs(), np.load(mirror / "cifar10h/cifar10h-probs.npy"))
    c10s = data.load_cifar10s()
    published = json.loads((mirror / "cifar10s/human_soft_labels_data.json").read_text())
    assert sorted(c10s.indices) == sorted(int(k) for k in published)
    split = data.load_uma_split()
    np.testing.assert_array_equal(split.train, np.load(mirror / "cifar10s/train_indices.npy"))
    names = json.loads((mirror / "hmix/first_collection_stimuli.json").read_text())
    assert sorted(s.name for s in data.load_first_collection()) == sorted(names)
    assert set(data.load_hmix_inferences().stimulus) == set(names)
    soft = data.load_hmix_soft_label_elicitations()
    assert soft.elicitations and soft.report.n_kept > 0
    glove = json.loads((mirror / "glove/cifar10_class_glove.json").read_text())
    np.testing.assert_allclose(data.load_glove()["cat"], np.asarray(glove["cat"], np.float32))


def test_online_chapter3_smoke_run_trains_on_the_official_images(online):
    from thesis_lib.runs.execute import execute
    from thesis_lib.runs.spec import make_spec

    assert make_spec(3, "T2Clamp", None, 0, "smoke").images == "official"
    record = execute(make_spec(3, "T2Clamp", None, 0, "smoke", train_subset=200, eval_subset=100, epochs=1), "cpu")
    assert record["image_provenance"]["source"] == "official" and len(record["curve"]) == 1
    assert record["metrics"] and all(np.isfinite(v) for m in record["metrics"].values() for v in m.values()
                                     if isinstance(v, float))


def test_second_download_uses_the_cache(online):
    assert registry.verify_all() == []
    online["requested"].clear()
    assert registry.verify_all() == []
    assert online["requested"] == []


def test_damaged_cached_copy_is_downloaded_again(online):
    path = registry.locate("cifar10h/cifar10h-counts.npy")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    online["requested"].clear()
    fresh = registry.locate("cifar10h/cifar10h-counts.npy")
    assert registry.file_hash(fresh) == registry.SOURCES["cifar10h/cifar10h-counts.npy"].sha256
    assert len(online["requested"]) == 1


def test_checksum_mismatch_from_the_server_is_a_named_error(online, publishers, monkeypatch):
    base = publishers[0]
    key = "cifar10h/cifar10h-counts.npy"
    monkeypatch.setitem(registry.SOURCES, key,
                        dataclasses.replace(registry.SOURCES[key], url=base + "broken/cifar10h-counts.npy"))
    with pytest.raises(DataError, match=key) as err:
        data.load_cifar10h_counts()
    assert "did not match its published checksum" in str(err.value) and "Fix" in str(err.value)
    assert any(key in p and "did not match" in p for p in registry.verify_all())


def test_download_failure_is_a_named_error(online, publishers, monkeypatch):
    base = publishers[0]
    key = "cifar10s/raw_human_data.csv"
    monkeypatch.setitem(registry.SOURCES, key,
                        dataclasses.replace(registry.SOURCES[key], url=base + "gone/raw_human_data.csv"))
    with pytest.raises(DataError, match="Could not download cifar10s/raw_human_data.csv") as err:
        registry.locate(key)
    assert "404" in str(err.value) and "Fix" in str(err.value)
    monkeypatch.setattr(registry, "CIFAR10_ARCHIVE_URL", base + "gone/cifar-10-python.tar.gz")
    with pytest.raises(DataError, match="Could not download cifar10/cifar-10-python.tar.gz") as err:
        data.load_cifar10_test()
    assert "Fix" in str(err.value)
    problems = registry.verify_all()
    assert len(problems) == 2 and all("Could not download" in p for p in problems)


def test_archive_with_the_wrong_md5_is_refused(online, monkeypatch):
    monkeypatch.setattr(registry, "CIFAR10_ARCHIVE_MD5", "0" * 32)
    with pytest.raises(DataError, match="cifar-10-python.tar.gz") as err:
        data.load_cifar10_test()
    assert "checksum" in str(err.value) and "Fix" in str(err.value)


def test_stimulus_script_that_changed_upstream_is_a_named_error(online, publishers, monkeypatch):
    base, root = publishers[0], publishers[1]
    (root / "changed").mkdir(exist_ok=True)
    (root / "changed" / "batches.js").write_text('var b = ["stimuli/mixed_0.5_Cat_1_Dog_2.png"];\n')
    key = "hmix/first_collection_stimuli.json"
    monkeypatch.setitem(registry.SOURCES, key,
                        dataclasses.replace(registry.SOURCES[key], url=base + "changed/batches.js"))
    with pytest.raises(DataError, match=key) as err:
        data.load_first_collection()
    assert "content checksum" in str(err.value) and "Fix" in str(err.value)


# --- where the data come from ------------------------------------------------------------------------------------

def _checkout(tmp_path, monkeypatch, with_mirror: bool) -> Path:
    checkout = tmp_path / "checkout"
    (checkout / "thesis_lib").mkdir(parents=True)
    (checkout / "thesis_lib" / "__init__.py").touch()
    (checkout / "notebooks").mkdir()
    if with_mirror:
        (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(checkout)
    return checkout


def test_mirror_beside_the_checkout_is_found_without_the_variable(tmp_path, monkeypatch):
    _checkout(tmp_path, monkeypatch, with_mirror=True)
    monkeypatch.delenv(registry.ENV_MIRROR, raising=False)
    assert registry.mirror_dir() == (tmp_path / "shared" / "data").resolve()
    assert registry.active_source() == ("mirror", str((tmp_path / "shared" / "data").resolve()))
    monkeypatch.setenv(registry.ENV_MIRROR, registry.DOWNLOAD)        # the opt-out wins
    assert registry.mirror_dir() is None and registry.active_source()[0] == "download"
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv(registry.ENV_MIRROR, str(other))                 # an explicit mirror wins too
    assert registry.mirror_dir() == other.resolve()


def test_no_mirror_beside_the_checkout_means_download(tmp_path, monkeypatch):
    _checkout(tmp_path, monkeypatch, with_mirror=False)
    monkeypatch.delenv(registry.ENV_MIRROR, raising=False)
    assert registry.mirror_dir() is None
    assert "downloaded" in registry.describe_source()


def test_mirror_needs_its_own_files(mirror_copy):
    mirror = registry.mirror_dir()
    assert set(registry.required_sources()) == set(registry.SOURCES)   # the mirror's reconstruction among them
    assert registry.verify_all() == []
    (mirror / "hmix" / "second_collection_stimuli.json").unlink()
    assert [p for p in registry.verify_all() if "second_collection_stimuli.json" in p]


def test_mirror_holding_the_archive_needs_it_instead_of_the_reconstruction(mirror_copy, monkeypatch, tmp_path):
    mirror = registry.mirror_dir()
    archive, _, _, _ = _synthetic_archive(np.random.default_rng(1))
    (mirror / registry.CIFAR10_ARCHIVE).write_bytes(archive)
    monkeypatch.setattr(registry, "CIFAR10_ARCHIVE_MD5", hashlib.md5(archive).hexdigest())
    for p in registry.RECONSTRUCTION:
        (mirror / p).unlink()
    needed = registry.required_sources()
    assert registry.CIFAR10_ARCHIVE in needed and not set(registry.RECONSTRUCTION) & set(needed)
    assert registry.verify_all() == []
    monkeypatch.setattr(registry, "CIFAR10_ARCHIVE_MD5", "0" * 32)
    problems = registry.verify_all()
    assert len(problems) == 1 and "cifar-10-python.tar.gz" in problems[0] and "Checksum mismatch" in problems[0]
