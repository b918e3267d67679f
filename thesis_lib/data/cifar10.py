"""The CIFAR-10 test set (10,000 images, original order): every other dataset indexes images by position here.

Two possible origins, and every result must say which it used:

* ``"official"``: ``test_batch`` from the official archive (md5-checked), pixel-exact.
* ``"mirror_reconstruction"``: the offline mirror's best-effort copy, in which 2,375 images are pixel-exact and
  7,625 are JPEG-recompressed (mean absolute error about 5.7/255). ``exact_mask`` tells which.
"""

from __future__ import annotations

import hashlib
import pickle
import tarfile
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from thesis_lib.data import registry
from thesis_lib.data.registry import DataError


@dataclass(frozen=True)
class ImageProvenance:
    source: str                      # "official" | "mirror_reconstruction"
    n_exact: int
    n_total: int
    detail: str

    def as_dict(self) -> dict:
        return {"source": self.source, "n_exact": self.n_exact, "n_total": self.n_total, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.source} ({self.n_exact:,}/{self.n_total:,} images pixel-exact)"


@dataclass(frozen=True)
class CIFAR10Test:
    images: np.ndarray               # (10000, 32, 32, 3) uint8 RGB
    labels: np.ndarray               # (10000,) int64
    exact_mask: np.ndarray           # (10000,) bool: pixel-exact copy of the original
    provenance: ImageProvenance = field(compare=False)

    def __iter__(self):              # images, labels, provenance = load_cifar10_test()
        return iter((self.images, self.labels, self.provenance))


def _validate(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    if images.shape != (10000, 32, 32, 3) or images.dtype != np.uint8:
        raise DataError(f"{where}: images have shape {images.shape} / dtype {images.dtype}, expected "
                        f"(10000, 32, 32, 3) uint8. Fix: replace the file with the published version.")
    if labels.shape != (10000,) or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{where}: labels malformed (shape {labels.shape}). Fix: replace the file.")


def _from_archive(path) -> CIFAR10Test:
    registry.verify(path, registry.CIFAR10_ARCHIVE_MD5, "md5")
    try:
        with tarfile.open(path, "r:gz") as tar:
            raw = tar.extractfile("cifar-10-batches-py/test_batch").read()
    except (tarfile.TarError, KeyError, OSError, AttributeError) as err:
        raise DataError(f"{path}: cannot read cifar-10-batches-py/test_batch ({err}). Fix: delete the archive and "
                        "download it again.") from err
    if hashlib.md5(raw).hexdigest() != registry.CIFAR10_TEST_BATCH_MD5:
        raise DataError(f"{path}: test_batch md5 mismatch. Fix: delete the archive and download it again.")
    batch = pickle.loads(raw, encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    _validate(images, labels, str(path))
    mask = np.ones(len(labels), dtype=bool)
    return CIFAR10Test(images, labels, mask, ImageProvenance("official", 10000, 10000,
                                                            "official cifar-10-python.tar.gz test_batch"))


def _from_mirror_reconstruction() -> CIFAR10Test:
    path = registry.locate("cifar10/cifar10_test_best_effort.npz")
    with np.load(path) as npz:
        images, labels, mask = npz["images"], npz["labels"].astype(np.int64), npz["exact_mask"].astype(bool)
    exact_labels = np.load(registry.locate("cifar10/cifar10_test_labels.npy"))
    _validate(images, labels, str(path))
    if not np.array_equal(labels, exact_labels):
        raise DataError(f"{path}: labels disagree with cifar10_test_labels.npy. Fix: restore both from the mirror.")
    n_exact = int(mask.sum())
    return CIFAR10Test(images, labels, mask, ImageProvenance(
        "mirror_reconstruction", n_exact, len(labels),
        f"offline mirror reconstruction: {n_exact} pixel-exact images, {len(labels) - n_exact} JPEG-recompressed "
        "copies (see the mirror's cifar10/PROVENANCE.json)"))


@lru_cache(maxsize=2)
def _load(source: tuple[str, str], url: str, md5: str) -> CIFAR10Test:
    # keyed on the active source and the archive's identity, so switching either never returns stale images
    archive = registry.cifar10_archive()
    return _from_archive(archive) if archive is not None else _from_mirror_reconstruction()


def load_cifar10_test() -> CIFAR10Test:
    """CIFAR-10 test images (10000x32x32x3 uint8, original order), labels and their provenance.

    With a mirror, the official archive is used when the mirror holds ``cifar10/cifar-10-python.tar.gz``,
    otherwise the mirror's reconstruction. Without one, the official archive is downloaded (md5-checked); the
    mirror-only reconstruction files are never needed then.
    """
    return _load(registry.active_source(), registry.CIFAR10_ARCHIVE_URL, registry.CIFAR10_ARCHIVE_MD5)


def image_source() -> str:
    """Where the active data source's CIFAR-10 test images come from: ``"official"`` or ``"mirror_reconstruction"``
    (what a run spec records as ``images``; the one look-up every grid and spec builder uses)."""
    return load_cifar10_test().provenance.source
