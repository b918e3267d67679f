"""The allocation archive (thesis_lib.runs.archive): rewritten whole after each record, imported only when every
check of the run cache passes (and the outputs are the very file the record names)."""

import io
import json
import re
import tarfile

import numpy as np
import pytest

from thesis_lib.runs import archive, cache
from thesis_lib.runs.spec import make_spec

METRIC = {"ce": 1.5, "accuracy": 0.5, "calibration": 0.1, "fgsm_loss": 2.5, "n": 100.0}


def fake_record(spec, n=40) -> dict:
    """A well-formed record of ``spec`` with outputs, as a run returns it (no training)."""
    rng = np.random.default_rng(spec.seed)
    outputs = {name: {"idx": np.arange(n), "log_probs": rng.normal(size=(n, 10)),
                      "fgsm_log_probs": rng.normal(size=(n, 10))} for name in ("cifar10h", "cifar10s")}
    return {"key": spec.key, "spec": spec.as_dict(), "label": spec.label(), "profile": spec.profile,
            "metrics": {name: dict(METRIC) for name in ("cifar10h", "cifar10s")},
            "curve": [{"epoch": 1, "loss": 2.0, "seconds": 0.1}], "wall_time_s": 1.0, "train_time_s": 0.5,
            "eval_time_s": 0.4, "device": "cpu (test)", "engine": "multi (1 stacked)", "outputs": outputs}


def _spec(seed):
    return make_spec(3, "hard", None, seed, "smoke", train_subset=200, eval_subset=100, epochs=1)


def _saved(root, seeds, n=40):
    return [cache.save(_spec(s), fake_record(_spec(s), n), root) for s in seeds]


def _entries(paths):
    return [(p.name, f.read_bytes()) for p in paths for f in (p.with_suffix(".npz"), p)]


def _members(path):
    with tarfile.open(path) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf}


def test_the_archive_is_rewritten_with_each_record_and_holds_them_byte_for_byte(tmp_path):
    paths = _saved(tmp_path / "runs", range(3))
    writer = archive.ArchiveWriter(tmp_path / "out")
    for i, p in enumerate(paths):
        assert writer.add(p) == tmp_path / "out" / "runs.tar"
        got = _members(tmp_path / "out" / "runs.tar")
        assert len(got) == 2 * (i + 1)                      # every record so far, each with its outputs
    for p in paths:
        assert got[f"runs/smoke/{p.stem}.json"] == p.read_bytes()
        assert got[f"runs/smoke/{p.stem}.npz"] == p.with_suffix(".npz").read_bytes()
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["runs.tar"]   # no temporary file left
    assert (tmp_path / "out" / "runs.tar").stat().st_size == archive._tar_bytes(_entries(paths))  # sized exactly


def test_a_full_part_starts_the_next_and_the_last_part_full_is_an_error(tmp_path):
    paths = _saved(tmp_path / "runs", range(5), n=1000)      # ~80 KB each: the tar's 10 KiB padding is small
    two = max(archive._tar_bytes(_entries(paths[i:i + 2])) for i in range(4))
    assert all(archive._tar_bytes(_entries(paths[i:i + 3])) > two for i in range(3))
    writer = archive.ArchiveWriter(tmp_path / "out", part_bytes=two, max_parts=2)   # two records a part
    for p in paths[:4]:
        writer.add(p)
    assert [p.name for p in writer.parts] == ["runs.tar", "runs-2.tar"]
    with pytest.raises(archive.ArchiveFull, match="parts are full"):
        writer.add(paths[4])
    assert writer.room_for() == 0
    rep = archive.import_archive(tmp_path / "out", tmp_path / "back")
    assert len(rep.imported) == 4 and not rep.rejected   # both parts read back


def test_import_restores_the_same_files_and_counts_those_present(tmp_path):
    paths = _saved(tmp_path / "runs", range(2))
    writer = archive.ArchiveWriter(tmp_path / "out")
    for p in paths:
        writer.add(p)
    rep = archive.import_archive(tmp_path / "out", tmp_path / "back")
    assert sorted(rep.imported) == sorted(p.stem for p in paths) and not rep.present and not rep.rejected
    for p in paths:
        back = tmp_path / "back" / "smoke" / p.name
        assert back.read_bytes() == p.read_bytes()
        assert back.with_suffix(".npz").read_bytes() == p.with_suffix(".npz").read_bytes()
        assert back.stat().st_mode & 0o777 == 0o644
        assert cache.load(_spec(int(json.loads(p.read_text())["spec"]["seed"])), tmp_path / "back") is not None
    again = archive.import_archive(tmp_path / "out" / "runs.tar", tmp_path / "back")
    assert again.summary().startswith("0 imported, 2 already present, 0 rejected")


def _tampered_archive(tmp_path, change):
    """An archive of two records whose members ``change(name, data)`` may alter (return None to drop one)."""
    paths = _saved(tmp_path / "runs", range(2))
    writer = archive.ArchiveWriter(tmp_path / "orig")
    for p in paths:
        writer.add(p)
    out = tmp_path / "bad" / "runs.tar"
    out.parent.mkdir()
    with tarfile.open(out, "w") as tf:
        for name, data in _members(tmp_path / "orig" / "runs.tar").items():
            data = change(name, data)
            if data is not None:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return paths


def _edit_metric(data):
    record = json.loads(data)
    record["metrics"]["cifar10h"]["ce"] = 0.01          # a "better" number, checksum left as it was
    return json.dumps(record).encode()


@pytest.mark.parametrize("how,why", [
    ("metric", "checksum does not match"),
    ("npz", "outputs' sha256"),
    ("no npz", "outputs file .* is missing"),
    ("no json", "outputs without a record"),
])
def test_import_rejects_a_tampered_record_and_names_it(tmp_path, how, why):
    victim = {}

    def change(name, data):
        if not victim:                                  # the first record in the archive
            victim["key"] = name.rsplit("/", 1)[1].split(".")[0]
        key = victim.get("key")
        if key is None or key not in name:
            return data
        if how == "metric" and name.endswith(".json"):
            return _edit_metric(data)
        if how == "npz" and name.endswith(".npz"):
            return data[:-40] + bytes(40)
        if (how == "no npz" and name.endswith(".npz")) or (how == "no json" and name.endswith(".json")):
            return None
        return data

    paths = _tampered_archive(tmp_path, change)
    rep = archive.import_archive(tmp_path / "bad", tmp_path / "back")
    assert len(rep.rejected) == 1 and victim["key"] in rep.rejected[0][0]
    assert re.search(why, rep.rejected[0][1]), rep.rejected
    good = [p for p in paths if p.stem != victim["key"]]
    assert rep.imported == [good[0].stem]
    assert not (tmp_path / "back" / "smoke" / f"{victim['key']}.json").exists()


def test_import_refuses_members_outside_the_layout(tmp_path):
    _tampered_archive(tmp_path, lambda name, data: data)
    with tarfile.open(tmp_path / "bad" / "runs.tar", "a") as tf:
        info = tarfile.TarInfo("../../etc/evil.json")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"{}"))
        link = tarfile.TarInfo("runs/smoke/0123456789abcdef0123.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    rep = archive.import_archive(tmp_path / "bad", tmp_path / "back")
    assert len(rep.imported) == 2
    assert {w for w, _ in rep.rejected} == {"../../etc/evil.json", "runs/smoke/0123456789abcdef0123.json"}
    assert not (tmp_path / "etc").exists()


def test_import_names_a_missing_or_unreadable_archive(tmp_path):
    with pytest.raises(FileNotFoundError, match="no runs.tar"):
        archive.archives_in(tmp_path)
    with pytest.raises(FileNotFoundError, match="neither"):
        archive.archives_in(tmp_path / "nope")
    (tmp_path / "runs.tar").write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="not a readable tar"):
        archive.import_archive(tmp_path, tmp_path / "back")
