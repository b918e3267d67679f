"""``thesis_lib.metrics`` (e.g. ``metrics_from_outputs``): the metrics of section 3.3.1. The code lives in
:mod:`thesis_lib.training.metrics`; this module keeps the old name working."""

from thesis_lib.training.metrics import *  # noqa: F401,F403
