"""The run cache: one JSON file per finished run, ``results/runs/<profile>/<key>.json``.

A file is written to a temporary name and atomically renamed, so a killed run leaves either nothing or a whole
result, never a partial one; a cached spec is loaded instead of retrained.

Beside each record, ``<key>.npz`` keeps the run's evaluation outputs: per evaluation set the image indices and the
model's log-softmax outputs on the clean and the FGSM images, float16, compressed (``load_outputs``). With them a
metric fix or a new metric is recomputed on a CPU (:func:`thesis_lib.training.metrics.metrics_from_outputs`), never retrained.
The outputs file is written first, so a record on disk always has its outputs.

Every record carries a ``checksum`` (sha256 of its canonical JSON without that field) and is validated on load:
it must parse as UTF-8 JSON, carry the key of its file, a spec that hashes to that key, the checksum, and, for
every evaluation set its chapter expects, finite numbers for every metric. A record that fails is named in a
:class:`RecordWarning`, set aside beside itself as ``<key>.json.rejected-<UTC time>`` (never deleted) and treated
as absent, so the run trains again.

While a process trains a run it holds a claim: an exclusive ``flock`` on ``<key>.claim`` beside the record
(which names its host and pid). Another process (a second grid) wanting the same run waits for the record instead
of training it again. The kernel releases the lock of a process that dies, however it dies (SIGKILL included), so a
claim left by a killed grid is taken over at once and never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import socket
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from thesis_lib.core import atomic
from thesis_lib.core.profiles import default_results_dir
from thesis_lib.runs.spec import RunSpec

#: The metrics every evaluation set of a record must hold, each a finite number.
REQUIRED_METRICS = ("ce", "accuracy", "calibration", "fgsm_loss")
CHECKSUM_FIELD = "checksum"
#: Cache files are readable by everyone (mkstemp would leave them 0600).
FILE_MODE = 0o644


class RecordWarning(UserWarning):
    """A cached run record failed validation and was set aside."""


class RecordError(ValueError):
    """Why a run record is not valid."""


def runs_dir(root: str | Path | None = None) -> Path:
    return Path(root) if root else Path(os.environ.get("THESIS_RUNS_DIR") or default_results_dir() / "runs")


def path_for(spec: RunSpec, root: str | Path | None = None) -> Path:
    return runs_dir(root) / spec.profile / f"{spec.key}.json"


def check_writable(profile: str, root: str | Path | None = None) -> Path:
    """Prove the cache folder of ``profile`` takes a file, before any training (``OSError`` naming it if not)."""
    return atomic.check_writable(runs_dir(root) / profile, "run cache folder")


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode()


def checksum(record: dict) -> str:
    """sha256 of the canonical JSON of ``record`` without its ``checksum`` field (as it reads back from disk)."""
    body = {k: v for k, v in record.items() if k != CHECKSUM_FIELD}
    return hashlib.sha256(_canonical(json.loads(json.dumps(body, default=float)))).hexdigest()


def spec_from_record(spec: dict) -> RunSpec:
    """The :class:`RunSpec` a record's stored ``spec`` describes (JSON lists back to tuples)."""
    if not isinstance(spec, dict):
        raise RecordError(f"'spec' is {type(spec).__name__}, not an object")
    d = dict(spec)
    if isinstance(d.get("milestones"), list):
        d["milestones"] = tuple(d["milestones"])
    if isinstance(d.get("extra"), list):
        d["extra"] = tuple(tuple(p) if isinstance(p, list) else p for p in d["extra"])
    try:
        return RunSpec(**d)
    except (TypeError, ValueError) as err:
        raise RecordError(f"its spec is not a valid RunSpec ({err})") from None


def expected_eval_sets(spec: RunSpec) -> set[str]:
    """The evaluation sets a run of ``spec`` is scored on (see each chapter's ``run_data``)."""
    if spec.validation:
        return {"validation"}
    return {"cifar10h", "cifar10s"} if spec.chapter == 3 else {"cifar10h"}


def _finite_numbers(value, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _finite_numbers(v, f"{where}.{k}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"metric {where} is {value!r}, not a number")
    elif not math.isfinite(value):
        raise RecordError(f"metric {where} is {value!r}, not a finite number")


def validate(record, key: str, profile: str | None = None) -> RunSpec:
    """Raise :class:`RecordError` naming the first fault of ``record`` stored under ``key``; returns its spec."""
    if not isinstance(record, dict):
        raise RecordError(f"the record is {type(record).__name__}, not an object")
    if record.get("key") != key:
        raise RecordError(f"its key {record.get('key')!r} is not the file's key {key!r}")
    if "spec" not in record:
        raise RecordError("it has no 'spec'")
    spec = spec_from_record(record["spec"])
    if spec.key != key:
        raise RecordError(f"its stored spec hashes to {spec.key}, not the file's key {key}")
    if profile is not None and spec.profile != profile:
        raise RecordError(f"its spec's profile {spec.profile!r} is not its folder's {profile!r}")
    if CHECKSUM_FIELD not in record:
        raise RecordError("it has no checksum (written by an older thesis_lib, or by hand)")
    if record[CHECKSUM_FIELD] != checksum(record):
        raise RecordError("its checksum does not match its content (edited or damaged after it was written)")
    metrics = record.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise RecordError(f"'metrics' is {metrics!r}, not a non-empty object")
    missing = expected_eval_sets(spec) - set(metrics)
    if missing:
        raise RecordError(f"evaluation set(s) {sorted(missing)} missing from its metrics")
    for name, m in metrics.items():
        if not isinstance(m, dict):
            raise RecordError(f"metrics of {name!r} are {m!r}, not an object")
        absent = [f for f in REQUIRED_METRICS if f not in m]
        if absent:
            raise RecordError(f"metrics of {name!r} lack {absent}")
        _finite_numbers(m, name)
    return spec


def read_record(path: str | Path) -> dict:
    """Parse and validate the record file ``path`` (key: its file name; profile: its folder's name)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise RecordError(f"it is not UTF-8 ({err.reason} at byte {err.start})") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise RecordError(f"it is not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    validate(record, path.name.removesuffix(".json"), path.parent.name)
    return record


def set_aside(path: Path, reason: str) -> Path | None:
    """Rename a rejected record to ``<name>.rejected-<UTC time>`` (never delete it) and warn, naming both."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.rejected-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.rejected-{stamp}-{n}")
        n += 1
    try:
        os.replace(path, target)
    except FileNotFoundError:  # another process set it aside (or replaced it) first
        target = None
    except OSError as err:  # a read-only cache: name the record, leave it, treat it as absent
        warnings.warn(f"run record {path} rejected: {reason}; it could not be set aside ({err}); it will be "
                      f"retrained", RecordWarning, stacklevel=3)
        return None
    if target is not None:
        warnings.warn(f"run record {path} rejected: {reason}; set aside as {target.name}; it will be retrained",
                      RecordWarning, stacklevel=3)
    return target


def load(spec: RunSpec, root: str | Path | None = None) -> dict | None:
    """The validated cached record of ``spec``, or None when absent or rejected (then set aside, see above)."""
    path = path_for(spec, root)
    for _ in range(3):
        try:
            before = path.stat()
            return read_record(path)
        except (FileNotFoundError, NotADirectoryError):  # absent, or set aside by another process meanwhile
            return None
        except RecordError as err:
            try:
                now = path.stat()
            except FileNotFoundError:
                return None
            if (now.st_ino, now.st_mtime_ns, now.st_size) != (before.st_ino, before.st_mtime_ns, before.st_size):
                continue  # another process replaced it meanwhile (e.g. with a retrained record): read that one
            set_aside(path, str(err))
            return None
    return None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def outputs_path_for(spec: RunSpec, root: str | Path | None = None) -> Path:
    return path_for(spec, root).with_suffix(".npz")


def _save_outputs(spec: RunSpec, outputs: dict, root) -> Path:
    path = outputs_path_for(spec, root)
    arrays = {}
    for name, d in outputs.items():
        for field, value in d.items():
            value = np.asarray(value)
            arrays[f"{name}/{field}"] = value.astype(np.int16 if field == "idx" else np.float16)  # indices < 10,000
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def load_outputs(spec_or_key, profile: str | None = None, root: str | Path | None = None) -> dict | None:
    """``{eval set: {"idx", "log_probs", "fgsm_log_probs"}}`` kept beside a record, or None when there is none."""
    if isinstance(spec_or_key, RunSpec):
        path = outputs_path_for(spec_or_key, root)
    else:
        path = runs_dir(root) / profile / f"{spec_or_key}.npz"
    if not path.is_file():
        return None
    out: dict = {}
    with np.load(path) as z:
        for name in z.files:
            eval_set, field = name.split("/", 1)
            out.setdefault(eval_set, {})[field] = z[name]
    return out


def save(spec: RunSpec, record: dict, root: str | Path | None = None) -> Path:
    """Write ``record`` (and its ``"outputs"``, popped into ``<key>.npz``) atomically; returns the record's path."""
    path = path_for(spec, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs = record.pop("outputs", None)
    if outputs:
        npz = _save_outputs(spec, outputs, root)
        record["outputs_file"], record["outputs_sha256"] = npz.name, file_sha256(npz)
    record = {**record, CHECKSUM_FIELD: checksum(record)}
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.key}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, indent=1, sort_keys=True, default=float)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def claim_path(spec: RunSpec, root: str | Path | None = None) -> Path:
    return path_for(spec, root).with_suffix(".claim")


@contextlib.contextmanager
def claim(spec: RunSpec, root: str | Path | None = None, notify=None):
    """Hold the claim on ``spec``'s run while the body trains it, first waiting while another live process holds
    it (``notify(info)`` is called once if so, ``info`` naming that process). Released on exit."""
    path = claim_path(spec, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    told = False
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if notify is not None and not told:
                with contextlib.suppress(OSError, ValueError):
                    notify(json.loads(path.read_text() or "{}"))
                told = True
            fcntl.flock(fd, fcntl.LOCK_EX)  # wait for the holder to finish (or die: the kernel then releases it)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed that file on release: claim the current one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "spec": spec.label(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still locked, so a waiter finds a fresh file to claim
        os.close(fd)
