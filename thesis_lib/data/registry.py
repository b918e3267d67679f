"""Every data source the companion uses: where it comes from, its checksum, and where a mirror keeps it.

Two ways to obtain a file; :func:`mirror_dir` decides which, the same way for ``run_all.sh``, a notebook opened in
``jupyter lab`` and a Ray worker:

* an offline **mirror** (laid out like ``shared/data``, i.e. ``<mirror>/<Source.path>``): the one named by
  ``THESIS_DATA_DIR``; when that is unset, ``<checkout>/../shared/data`` if it exists (the checkout is
  :func:`thesis_lib.core.profiles.repo_root`). Files are read there and verified against their sha256.
* **download**: ``THESIS_DATA_DIR=download`` (the explicit opt-out, which wins even when a mirror sits beside the
  checkout), or no variable and no mirror beside the checkout. Each file is downloaded once from its canonical URL
  (the original publisher) with pooch into a cache directory (``THESIS_CACHE_DIR``, default
  ``~/.cache/thesis_companion``) and verified on download; the CIFAR-10 images come from the official archive.

Each source needs its own files (:func:`required_sources`): online, the downloadable files and the official
CIFAR-10 archive; with a mirror, the mirror's files (its CIFAR-10 reconstruction, unless it holds the official
archive). Files that exist only in the mirror (``url=None``) are never needed online.

A missing or corrupted file raises :class:`DataError` naming the file and the fix. There is no fallback to
anything else: a table must never be computed from the wrong data.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from thesis_lib.core.profiles import repo_root
from thesis_lib.data import derived
from thesis_lib.data.sources import DataError, Source  # noqa: F401  (defined below the registry: derived uses them)

ENV_MIRROR = "THESIS_DATA_DIR"
ENV_CACHE = "THESIS_CACHE_DIR"
# THESIS_DATA_DIR=download: download from the publishers even when a mirror sits beside the checkout.
DOWNLOAD = "download"

_GH_CIFAR10H = "https://github.com/jcpeterson/cifar-10h/raw/master/data/"
_GH_CIFAR10S = "https://github.com/cambridge-mlg/cifar-10s/raw/master/"
_GH_HMIX = "https://github.com/cambridge-mlg/hill-mixup/raw/main/"


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

# The mirror's CIFAR-10 reconstruction: its images are used when the mirror does not hold the official archive.
RECONSTRUCTION = ("cifar10/cifar10_test_best_effort.npz", "cifar10/cifar10_test_labels.npy",
                  "cifar10/cifar10_test_exact_subset.npz", "cifar10/PROVENANCE.json")


def mirror_dir() -> Path | None:
    """The offline mirror in use, or ``None`` when downloading.

    ``THESIS_DATA_DIR`` names it (``THESIS_DATA_DIR=download`` opts out of any mirror); when that is unset, the
    mirror beside the checkout (``<repo_root()>/../shared/data``) is used if it exists.
    """
    value = os.environ.get(ENV_MIRROR, "").strip()
    if value == DOWNLOAD:
        return None
    if value:
        path = Path(value).expanduser().resolve()
        if not path.is_dir():
            raise DataError(f"{ENV_MIRROR}={value!r} is not a directory. Fix: point {ENV_MIRROR} at the data mirror "
                            f"(laid out like shared/data), or set {ENV_MIRROR}={DOWNLOAD} to download from the "
                            f"original publishers.")
        return path

    beside = repo_root().parent / "shared" / "data"
    return beside.resolve() if beside.is_dir() else None


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE, "~/.cache/thesis_companion")).expanduser()


def active_source() -> tuple[str, str]:
    """``("mirror", <mirror path>)`` or ``("download", <cache path>)``: where files come from now (hashable, so
    loaders can key their memo on it)."""
    mirror = mirror_dir()
    return ("mirror", str(mirror)) if mirror is not None else ("download", str(cache_dir().resolve()))


def describe_source() -> str:
    """One line for logs and scripts: which data source is active."""
    kind, where = active_source()
    if kind == "mirror":
        return f"offline mirror {ENV_MIRROR}={where}"
    return f"downloaded from the original publishers into {where} (cache: {ENV_CACHE})"


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_verified: dict[tuple[str, int, int, str], str] = {}


def verify(path: Path, expected: str, algorithm: str = "sha256") -> Path:
    """Check a file's checksum (memoised per path, size, mtime and algorithm, so repeated loads stay cheap)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, algorithm)
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
            if source.url:
                alternative = f", or set {ENV_MIRROR}={DOWNLOAD} to download it from {source.url}"
            elif path in RECONSTRUCTION:
                alternative = (f" (only distributed through the mirror), or put the official {CIFAR10_ARCHIVE} in "
                               f"the mirror, or set {ENV_MIRROR}={DOWNLOAD} to use the official archive online")
            else:
                alternative = f" (only distributed through the mirror), or set {ENV_MIRROR}={DOWNLOAD}"
            raise DataError(f"Missing data file {local} ({source.description}). Fix: restore {source.path} in the "
                            f"mirror {ENV_MIRROR}={mirror}{alternative}.")
        return verify(local, source.sha256)
    return _download(source)


def _download(source: Source) -> Path:
    if source.url is None:
        raise DataError(
            f"{source.path} ({source.description}) is only available from the offline mirror. Fix: set "
            f"{ENV_MIRROR} to a mirror laid out like shared/data.")
    if source.derived_from is not None:
        return derived.build(source, cache_dir(), fetch)
    target = cache_dir() / source.path
    return fetch(source.url, target, f"sha256:{source.sha256}", source.path)


def fetch(url: str, target: Path, known_hash: str | None, what: str) -> Path:
    """Download ``url`` to ``target`` with pooch (once; re-downloaded when the cached copy does not match
    ``known_hash``). Failures are :class:`DataError` naming ``what``, the URL and the fix."""
    if known_hash is not None and target.is_file():
        algorithm, digest = known_hash.split(":")
        try:
            return verify(target, digest, algorithm)  # memoised: a cached copy is not hashed on every load
        except DataError:
            pass  # a stale or damaged cached copy: pooch downloads it again
    import pooch  # only when a file is downloaded (offline mirrors never need it)

    try:
        fetched = pooch.retrieve(url, known_hash=known_hash, fname=target.name, path=target.parent,
                                 progressbar=False)
    except ValueError as err:  # pooch's checksum failure
        raise DataError(f"Download of {what} from {url} did not match its published checksum ({err}). Fix: retry; "
                        f"if it persists, the upstream file changed: use an offline mirror via {ENV_MIRROR}.") from err
    except Exception as err:  # network errors of every kind
        raise DataError(f"Could not download {what} from {url}: {err}. Fix: check the connection, or set "
                        f"{ENV_MIRROR} to an offline mirror laid out like shared/data.") from err
    return Path(fetched)


def cifar10_archive() -> Path | None:
    """The official CIFAR-10 archive, md5-verified: the mirror's copy when it holds one, downloaded when online;
    ``None`` for a mirror without it (its reconstruction is used instead)."""
    mirror = mirror_dir()
    if mirror is not None:
        local = mirror / CIFAR10_ARCHIVE
        return verify(local, CIFAR10_ARCHIVE_MD5, "md5") if local.is_file() else None
    return fetch(CIFAR10_ARCHIVE_URL, cache_dir() / CIFAR10_ARCHIVE, f"md5:{CIFAR10_ARCHIVE_MD5}", CIFAR10_ARCHIVE)


def required_sources() -> list[str]:
    """The files the active source needs, as mirror paths: the keys of :data:`SOURCES` plus, where the official
    images are used, :data:`CIFAR10_ARCHIVE`.

    * online: every downloadable file (``url`` set) and the official archive; never a mirror-only file.
    * with a mirror: every file of the mirror, except that a mirror holding the official archive needs it instead
      of its reconstruction (:data:`RECONSTRUCTION`).
    """
    mirror = mirror_dir()
    if mirror is None:
        return [p for p, s in SOURCES.items() if s.url is not None] + [CIFAR10_ARCHIVE]
    if (mirror / CIFAR10_ARCHIVE).is_file():
        return [p for p in SOURCES if p not in RECONSTRUCTION] + [CIFAR10_ARCHIVE]
    return list(SOURCES)


def verify_all() -> list[str]:
    """Problems with any file the active source needs (:func:`required_sources`: missing, corrupted, failed to
    download), one line each naming the file and the fix. Online this downloads what is not cached yet."""
    problems = []
    for path in required_sources():
        try:
            if path == CIFAR10_ARCHIVE:
                cifar10_archive()
            else:
                locate(path)
        except DataError as err:
            problems.append(str(err))
    return problems
