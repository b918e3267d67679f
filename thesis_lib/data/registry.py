"""Every data source the companion uses: where it comes from, its checksum, and where a mirror keeps it.

Two ways to obtain a file, chosen by the environment:

* ``THESIS_DATA_DIR`` set: the file is read from that offline mirror (laid out like ``../shared/data``,
  i.e. ``<mirror>/<Source.path>``) and verified against its sha256 there too.
* otherwise: the file is downloaded once from its canonical URL (the original publisher) with pooch into a
  cache directory (``THESIS_CACHE_DIR``, default ``~/.cache/thesis_companion``) and verified on download.

A missing or corrupted file raises :class:`DataError` naming the file and the fix. There is no fallback to
anything else: a table must never be computed from the wrong data.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

ENV_MIRROR = "THESIS_DATA_DIR"
ENV_CACHE = "THESIS_CACHE_DIR"

_GH_CIFAR10H = "https://github.com/jcpeterson/cifar-10h/raw/master/data/"
_GH_CIFAR10S = "https://github.com/cambridge-mlg/cifar-10s/raw/master/"
_GH_HMIX = "https://github.com/cambridge-mlg/hill-mixup/raw/main/"


class DataError(RuntimeError):
    """A data file is missing, corrupted or malformed. The message names the file and the fix."""


@dataclass(frozen=True)
class Source:
    """One file of the mirror layout.

    ``sha256`` is the checksum of the file itself. ``url`` is the canonical download (``None`` for files that
    exist only in the offline mirror, such as the CIFAR-10 reconstruction). ``derived_from`` names an upstream
    file the mirror's file was derived from, when the upstream file is not itself the mirror's file; for those,
    ``content_sha256`` checks the derived *content* rather than the bytes of the upstream file.
    """

    path: str
    sha256: str
    url: str | None
    description: str
    derived_from: str | None = None
    content_sha256: str | None = None


SOURCES: dict[str, Source] = {
    s.path: s
    for s in [
        # --- CIFAR-10 test set -------------------------------------------------------------------------------
        Source("cifar10/cifar10_test_best_effort.npz",
               "61bb9cf8fbb5eed6b3f57674b2a7d9c6ff795cbf569f674c0876eeeac4b174a6", None,
               "CIFAR-10 test images in original order; mirror reconstruction (2,375 pixel-exact, 7,625 JPEG copies)"),
        Source("cifar10/cifar10_test_labels.npy",
               "fc48d9ecfdbeacce2dacf004498170f2df12e75e3485475017d2663b587a92f3", None,
               "CIFAR-10 test labels, exact, original order"),
        Source("cifar10/cifar10_test_exact_subset.npz",
               "a63bea98e50be805bac6ed4ca2895b8661930e962650d2abf476c0e6ba93ef82", None,
               "the 2,375 pixel-exact CIFAR-10 test images with their indices"),
        Source("cifar10/PROVENANCE.json",
               "83756b7a49f8a0c82425778b9b34a0adf482feebd553947a085b3861aff116a2", None,
               "how the mirror's CIFAR-10 reconstruction was made"),
        # --- CIFAR-10H ----------------------------------------------------------------------------------------
        Source("cifar10h/cifar10h-counts.npy",
               "9b36b4550349af56c79083356312eb4af856cc5fd3caf1f669d40b9d0bbb69ff",
               _GH_CIFAR10H + "cifar10h-counts.npy", "CIFAR-10H vote counts (10000, 10)"),
        Source("cifar10h/cifar10h-probs.npy",
               "436ae98620e00073f9d08585ac870573b588853e7af9f54eb1647408114af77d",
               _GH_CIFAR10H + "cifar10h-probs.npy", "CIFAR-10H label distributions (10000, 10)"),
        # --- CIFAR-10S ----------------------------------------------------------------------------------------
        Source("cifar10s/human_soft_labels_data.json",
               "95149462b12839e192a1389d1f91189496b621b9391831eef5461dff9cae5ca6",
               _GH_CIFAR10S + "cifar10s_data/human_soft_labels_data.json",
               "CIFAR-10S elicitations: {test index: [one dict per annotator]}"),
        Source("cifar10s/raw_human_data.csv",
               "e1dd26bfd75a00cb4e9e875a4ad7a02b3f16a3bd318a165b4693c059c85d0eb0",
               _GH_CIFAR10S + "cifar10s_data/raw_human_data.csv",
               "CIFAR-10S raw trial records (subjects, responses, response times)"),
        Source("cifar10s/exclusion_criteria_prolific_ids.json",
               "2368c42d0b0b0660010f6407752b50f1f85e307116747883914fdab7abbfcfef",
               _GH_CIFAR10S + "cifar10s_data/exclusion_criteria_prolific_ids.json",
               "participants excluded by the study's criteria"),
        Source("cifar10s/train_indices.npy",
               "af80134e896dda7f42c7acc9386243d53b4bf54c996b219452fa6ac600c8883a",
               _GH_CIFAR10S + "other_data/train_indices.npy", "Uma et al. 70 % split (7,000 test-set indices)"),
        Source("cifar10s/test_indices.npy",
               "2cda098d4cc19137cde538b37f26759e8c0fbc20c470aa89a9574f4edba2bcbb",
               _GH_CIFAR10S + "other_data/test_indices.npy", "Uma et al. 30 % split (3,000 test-set indices)"),
        # --- H-Mix --------------------------------------------------------------------------------------------
        Source("hmix/processed_hmix_inferences.json",
               "0cec610ca92a493a8551b923dec5fdfedfcca0fe199f55aa2447db16621bcea7",
               _GH_HMIX + "h_mix/processed_hmix_inferences.json",
               "per stimulus: generating lambda and per-annotator inferred lambda_h and confidence omega"),
        Source("hmix/first_collection_stimuli.json",
               "b3beb29ec7a9dc73b7aacf8e46856ed2a1f79f7f47a4e6350a2e3a7bea756b3d",
               _GH_HMIX + "hill_mixe_suite/infer-mixing-factor-with-unc/resources/first_collection_batches.js",
               "the 810 Chapter 4 stimuli (45 class pairs x 6 image pairs x 3 coefficients)",
               derived_from="first_collection_batches.js",
               # sha256 of the sorted stimulus names joined by newlines
               content_sha256="ab0e8f21726c22a8b8e45f647f0ec03c6c172c2eafbdae7e094b5769226090ae"),
        Source("hmix/second_collection_stimuli.json",
               "5d8b285681ec9432a1d1e4267d8183172d8a0b6c102f76d5aeb6cb555464335e", None,
               "the 540 stimuli added after the thesis (unused)"),
        Source("hmix/hmix_infer_mixing_factor.csv",
               "9f8aa49c85e9879453a032ea43abf7764425fe1a452c8fdd5f3c9b7c9fd35eeb",
               _GH_HMIX + "h_mix/hmix_infer_mixing_factor.csv", "raw H-Mix mixing-coefficient trials"),
        Source("hmix/hmix_categorical_soft_labels.csv",
               "c9dec5d338399b6152db3b8389a98e98dc264bb6e07e5b4e07746a046f020584",
               _GH_HMIX + "h_mix/hmix_categorical_soft_labels.csv",
               "soft-label elicitations over 100 mixed images (thesis section 5.1)"),
        # --- GloVe --------------------------------------------------------------------------------------------
        Source("glove/cifar10_class_glove.json",
               "ea05a1b1afe4b0200b0f283b8c2a71c355a5681fe60733fb42cabb3ab30dfc44",
               "gensim-data:glove-wiki-gigaword-50",
               "50-d GloVe (glove.6B) vectors of the 10 class names",
               derived_from="glove-wiki-gigaword-50",
               # sha256 of the float32 (10, 50) matrix in class order
               content_sha256="2cc62f1ed7f146a289b1dcab2c40f594272cdd5beea9514a6330761a4edc36c2"),
    ]
}

# The official CIFAR-10 archive, used when online or when a mirror holds it; md5 as published on the site.
CIFAR10_ARCHIVE = "cifar10/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_TEST_BATCH_MD5 = "40351d587109b95175f43aff81a1287e"


def mirror_dir() -> Path | None:
    """The offline mirror named by ``THESIS_DATA_DIR``, or ``None`` when downloading."""
    value = os.environ.get(ENV_MIRROR)
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise DataError(f"{ENV_MIRROR}={value!r} is not a directory. Fix: point {ENV_MIRROR} at the data mirror "
                        f"(laid out like shared/data) or unset it to download from the original publishers.")
    return path


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE, "~/.cache/thesis_companion")).expanduser()


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}


def verify(path: Path, expected: str, algorithm: str = "sha256") -> Path:
    """Check a file's checksum (memoised per path, size and mtime, so repeated loads stay cheap)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    actual = _verified.get(key) or file_hash(path, algorithm)
    if actual != expected:
        raise DataError(
            f"Checksum mismatch for {path}: {algorithm} is {actual}, expected {expected}. The file is corrupted or "
            f"is not the published version. Fix: replace it with a fresh copy (delete it to re-download, or restore "
            f"it in the mirror from the original publisher).")
    _verified[key] = actual
    return path


def locate(path: str) -> Path:
    """Path to a verified copy of mirror file ``path`` (a key of :data:`SOURCES`).

    Raises :class:`DataError` when the file is missing or its checksum does not match.
    """
    try:
        source = SOURCES[path]
    except KeyError:
        raise KeyError(f"unknown data file {path!r}; known: {sorted(SOURCES)}") from None
    mirror = mirror_dir()
    if mirror is not None:
        local = mirror / source.path
        if not local.is_file():
            raise DataError(
                f"Missing data file {local} ({source.description}). Fix: restore {source.path} in the mirror "
                f"{ENV_MIRROR}={mirror}" + (f", or unset {ENV_MIRROR} to download it from {source.url}"
                                             if source.url else "; it is only distributed through the mirror"))
        return verify(local, source.sha256)
    return _download(source)


def _download(source: Source) -> Path:
    if source.url is None:
        raise DataError(
            f"{source.path} ({source.description}) is only available from the offline mirror. Fix: set "
            f"{ENV_MIRROR} to a mirror laid out like shared/data.")
    if source.derived_from is not None:
        from thesis_lib.data import derived  # local import: only needed online

        return derived.build(source, cache_dir())
    import pooch

    target = cache_dir() / source.path
    try:
        fetched = pooch.retrieve(source.url, known_hash=f"sha256:{source.sha256}", fname=target.name,
                                 path=target.parent, progressbar=False)
    except ValueError as err:  # pooch's checksum failure
        raise DataError(f"Download of {source.url} did not match its published sha256 ({err}). Fix: retry; if it "
                        f"persists, the upstream file changed — use the offline mirror via {ENV_MIRROR}.") from err
    except Exception as err:  # network errors of every kind
        raise DataError(f"Could not download {source.path} from {source.url}: {err}. Fix: check the connection, "
                        f"or set {ENV_MIRROR} to an offline mirror laid out like shared/data.") from err
    return Path(fetched)


def verify_all() -> list[str]:
    """Problems with any source the companion needs (missing, corrupted), one line each naming the fix."""
    problems = []
    for path in SOURCES:
        try:
            locate(path)
        except DataError as err:
            problems.append(str(err))
    mirror = mirror_dir()
    archive = mirror / CIFAR10_ARCHIVE if mirror is not None else None
    if archive is not None and archive.is_file():  # optional, but used instead of the reconstruction when present
        try:
            verify(archive, CIFAR10_ARCHIVE_MD5, "md5")
        except DataError as err:
            problems.append(f"{err} (or remove it from the mirror to use the mirror's reconstruction)")
    return problems
