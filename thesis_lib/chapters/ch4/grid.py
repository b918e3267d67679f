"""Tables 4.1-4.3 as run specs (section 4.3): PreAct ResNet-18 at the full profile, 5 seeds; rows shared between
tables are one cache entry. The rows are the thesis's, in its order; what each label method trains on is
:mod:`thesis_lib.chapters.ch4.runs`."""

from __future__ import annotations

from thesis_lib import data
from thesis_lib.chapters.common import one_model_grid
from thesis_lib.core import profiles
from thesis_lib.core.catalogue import HYP, table_ids
from thesis_lib.runs.grid import Grid, Row
from thesis_lib.runs.spec import make_spec

TABLES = table_ids(4)
ROWS = {
    "4.1": [("Regular (No Aug)", "no_aug"), ("+ Uniform Labels", "uniform"), ("+ Random Labels", "random"),
            ("+ mixup Labels", "mixup"), ("Ours (Agg, mean lambda_h)", "agg")],
    "4.2": [("mixup Labels", "mixup"), ("Ours (Agg, mean lambda_h)", "agg"), ("Ours (Sep, lambda_h^m)", "sep")],
}
ROWS["4.3"] = ROWS["4.2"] + [("Ours (Agg, mean lambda_h with mean omega)", "agg_conf"),
                             ("Ours (Sep, lambda_h^m with omega_m)", "sep_conf")]


def build(profile: str, seeds=None, models=None, tables=None, figures=None, images: str | None = None,
          rules: str = "thesis", confidence_gamma: float | None = None) -> Grid:
    """The grid of Tables 4.1-4.3 (``tables``, default all) for ``profile``; ``seeds`` and ``models`` (one model)
    override the profile's; ``confidence_gamma`` defaults to the thesis's (``HYP``). Chapter 4's labels come from
    lambda_h, not soft-label elicitations, so no label rule set applies: ``rules`` other than "thesis" is an error."""
    if rules != "thesis":
        raise ValueError(f"rules={rules!r}: Chapter 4's labels come from lambda_h, not soft-label elicitations, "
                         "so no label rule set applies; leave it 'thesis'")
    seeds, model, tables = one_model_grid(4, profile, seeds, models, tables, figures,
                                          profiles.settings(profile).mixup.models[0], TABLES)
    if images is None:
        images = data.image_source()
    confidence_gamma = HYP["confidence_gamma"] if confidence_gamma is None else confidence_gamma

    def specs(method):
        extra = {"confidence_gamma": confidence_gamma} if method.endswith("_conf") else {}
        return tuple(make_spec(4, method, model, s, profile, images=images, extra=extra) for s in seeds)

    return Grid(profile, {t: [Row(label, specs(m), eval_sets=("cifar10h",)) for label, m in ROWS[t]]
                          for t in tables})
