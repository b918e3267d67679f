"""The two types every data module shares: a registered file (:class:`Source`) and the error a missing or corrupted
one raises (:class:`DataError`). Below :mod:`thesis_lib.data.registry`, so the online builders
(:mod:`thesis_lib.data.derived`) use them without importing the registry that calls them."""

from __future__ import annotations

from dataclasses import dataclass


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
