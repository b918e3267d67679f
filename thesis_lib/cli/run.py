"""Train one run spec through the run cache (a cached spec is loaded, not retrained) and print its record.

    python -m thesis_lib.run --chapter 3 --label-method T2Clamp --model resnet34a --seed 0 --profile smoke
    python -m thesis_lib.run --chapter 5 --label-method ent_wc --rules release     # labels built by the release rules

The spec is :func:`thesis_lib.runs.spec.make_spec`'s, so its key is the one the notebooks and
``python -m thesis_lib.grid`` compute; :meth:`thesis_lib.runs.spec.RunSpec` checks every field (the label method
against its chapter, ``--rules`` among the label rule sets). ``--rules`` (default ``thesis``) applies to the
chapters whose labels are built from elicitations (3 and 5); Chapter 4's come from lambda_h, so there anything
but ``thesis`` is an error. The engine is :func:`thesis_lib.runs.run.run_spec`.
"""

from __future__ import annotations

import argparse
import json
import sys

from thesis_lib import data
from thesis_lib.core.catalogue import HYP
from thesis_lib.runs import cache
from thesis_lib.runs.run import run_spec
from thesis_lib.runs.spec import make_spec


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m thesis_lib.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chapter", type=int, default=3)
    p.add_argument("--label-method", required=True)
    p.add_argument("--model", default=None, help="default: the profile's first model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", default="smoke", choices=("full", "quick", "smoke"))
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default)")
    p.add_argument("--annotators", type=int, default=None, help="M annotators per image")
    p.add_argument("--deaggregate", action="store_true")
    p.add_argument("--gamma", type=float, default=HYP["gamma"], help="default: the thesis's")
    p.add_argument("--beta", type=float, default=0.0)
    p.add_argument("--n-soft", type=int, default=None)
    p.add_argument("--rules", default="thesis",
                   help="label rule set (chapters 3 and 5): thesis (section 3.2.2, default) or release (the authors' "
                        "released labels); checked by the spec")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--force", action="store_true", help="retrain even when cached")
    a = p.parse_args(argv)
    try:
        over = {k: v for k, v in dict(annotators=a.annotators, deaggregate=a.deaggregate, gamma=a.gamma,
                                      beta=a.beta, n_soft=a.n_soft, epochs=a.epochs, rules=a.rules).items()
                if v is not None}
        spec = make_spec(a.chapter, a.label_method, a.model, a.seed, a.profile, **over)  # checked in the spec
        if a.force or cache.load(spec) is None:
            cache.check_writable(spec.profile)  # before training, not when saving after it
        record = run_spec(spec, a.device, progress=True, force=a.force)
    except (ValueError, NotImplementedError, data.DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"key": record["key"], "label": record["label"], "metrics": record["metrics"],
                      "wall_time_s": round(record["wall_time_s"], 1),
                      "train_images_per_s": round(record["train_images_per_s"], 1), "device": record["device"],
                      "cache": str(cache.path_for(spec))}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
