"""``thesis_lib.cache`` (e.g. ``load_outputs``): the run cache. The code lives in :mod:`thesis_lib.runs.cache`; this
module keeps the old name working."""

from thesis_lib.runs.cache import *  # noqa: F401,F403
