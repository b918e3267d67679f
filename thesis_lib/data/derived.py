"""Online builders for the two mirror files that are derived from an upstream file rather than copied from one.

* ``hmix/first_collection_stimuli.json``: the stimulus names listed in the hill-mixup study's
  ``first_collection_batches.js``.
* ``glove/cifar10_class_glove.json``: the 10 class-name vectors of glove.6B 50-d, through gensim's downloader
  (which checks its own download).

Each build is verified against the *content* checksum in the registry, then written to the cache in the mirror's
format, so later loads read the cache like any other file; a cached build whose content no longer matches is
built again.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from thesis_lib import CLASSES
from thesis_lib.data.sources import DataError, Source

_STIMULUS = re.compile(r"mixed_[0-9.]+_[A-Za-z]+_\d+_[A-Za-z]+_\d+\.png")


def stimulus_list_hash(names: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()


def glove_matrix_hash(vectors: dict[str, list[float]]) -> str:
    matrix = np.asarray([vectors[c] for c in CLASSES], dtype=np.float32)
    return hashlib.sha256(matrix.tobytes()).hexdigest()


def content_hash(source: Source, path: Path) -> str | None:
    """The content checksum of a built (or mirror) file, ``None`` when it cannot be read as one."""
    try:
        content = json.loads(path.read_text())
        if source.path == "hmix/first_collection_stimuli.json":
            return stimulus_list_hash(list(content))
        return glove_matrix_hash(content)
    except (ValueError, KeyError, TypeError, OSError):
        return None


def build(source: Source, cache: Path, fetch) -> Path:
    """Build ``source`` into ``cache``; ``fetch(url, target, known_hash, what)`` downloads (the registry's)."""
    target = cache / source.path
    if target.is_file() and content_hash(source, target) == source.content_sha256:
        return target
    if source.path == "hmix/first_collection_stimuli.json":
        content, digest = _first_collection(source, cache, fetch)
    elif source.path == "glove/cifar10_class_glove.json":
        content, digest = _glove()
    else:  # pragma: no cover - registry and builders are kept in step
        raise DataError(f"no builder for derived file {source.path}")
    if digest != source.content_sha256:
        raise DataError(f"{source.path} built from {source.url} has content checksum {digest}, expected "
                        f"{source.content_sha256}. Fix: the upstream changed; use an offline mirror "
                        f"(THESIS_DATA_DIR=<mirror>).")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(content))
    tmp.replace(target)
    return target


def _first_collection(source: Source, cache: Path, fetch):

    # the upstream .js is not checksummed itself (only the stimulus list it yields is); re-fetched on every build
    js = cache / "hmix" / "upstream" / Path(source.url).name
    js.unlink(missing_ok=True)
    names = sorted(set(_STIMULUS.findall(fetch(source.url, js, None, source.path).read_text())))
    return names, stimulus_list_hash(names)


def glove_vectors():
    """glove-wiki-gigaword-50 through gensim's downloader (a mapping word -> vector); the one network step of the
    GloVe build, kept apart so a test can stand in for it."""
    import gensim.downloader  # optional: only to rebuild the GloVe file from gensim's copy

    return gensim.downloader.load("glove-wiki-gigaword-50")


def _glove():
    try:
        kv = glove_vectors()
        vectors = {c: [float(x) for x in kv[c]] for c in CLASSES}
    except Exception as err:
        raise DataError(f"Could not obtain glove/cifar10_class_glove.json from glove-wiki-gigaword-50 through "
                        f"gensim's downloader: {err}. Fix: check the connection, or set THESIS_DATA_DIR to an "
                        f"offline mirror holding glove/cifar10_class_glove.json.") from err
    vectors["_source"] = "gensim-data glove-wiki-gigaword-50"
    return vectors, glove_matrix_hash(vectors)
