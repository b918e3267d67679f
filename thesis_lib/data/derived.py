"""Online builders for the two mirror files that are derived from an upstream file rather than copied from one.

* ``hmix/first_collection_stimuli.json``: the stimulus names listed in the hill-mixup study's
  ``first_collection_batches.js``.
* ``glove/cifar10_class_glove.json``: the 10 class-name vectors of glove.6B 50-d, through gensim's downloader
  (which checks its own download).

Each build is verified against the *content* checksum in the registry, then written to the cache in the mirror's
format, so later loads read the cache like any other file.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from thesis_lib import CLASSES
from thesis_lib.data.registry import DataError, Source

_STIMULUS = re.compile(r"mixed_[0-9.]+_[A-Za-z]+_\d+_[A-Za-z]+_\d+\.png")


def stimulus_list_hash(names: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()


def glove_matrix_hash(vectors: dict[str, list[float]]) -> str:
    matrix = np.asarray([vectors[c] for c in CLASSES], dtype=np.float32)
    return hashlib.sha256(matrix.tobytes()).hexdigest()


def build(source: Source, cache: Path) -> Path:
    target = cache / source.path
    if target.is_file():
        return target
    if source.path == "hmix/first_collection_stimuli.json":
        content, digest = _first_collection(source)
    elif source.path == "glove/cifar10_class_glove.json":
        content, digest = _glove()
    else:  # pragma: no cover - registry and builders are kept in step
        raise DataError(f"no builder for derived file {source.path}")
    if digest != source.content_sha256:
        raise DataError(f"{source.path} built from {source.url} has content checksum {digest}, expected "
                        f"{source.content_sha256}. Fix: the upstream changed; use the offline mirror (THESIS_DATA_DIR).")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(content))
    tmp.replace(target)
    return target


def _first_collection(source: Source):
    import pooch

    try:
        js = Path(pooch.retrieve(source.url, known_hash=None, progressbar=False))
    except Exception as err:
        raise DataError(f"Could not download {source.url}: {err}. Fix: set THESIS_DATA_DIR to an offline mirror.") from err
    names = sorted(set(_STIMULUS.findall(js.read_text())))
    return names, stimulus_list_hash(names)


def _glove():
    try:
        import gensim.downloader
        kv = gensim.downloader.load("glove-wiki-gigaword-50")
    except Exception as err:
        raise DataError(f"Could not obtain glove-wiki-gigaword-50 through gensim's downloader: {err}. Fix: set "
                        f"THESIS_DATA_DIR to an offline mirror holding glove/cifar10_class_glove.json.") from err
    vectors = {c: [float(x) for x in kv[c]] for c in CLASSES}
    vectors["_source"] = "gensim-data glove-wiki-gigaword-50"
    return vectors, glove_matrix_hash(vectors)
