"""run_all.sh's checks before any notebook starts: the profile, the data, the output folders, and the papermill
parameters (their names and values).

    python -m thesis_lib.preflight PROFILE NOTEBOOK [NOTEBOOK ...] [--params-out FILE] [-- NAME VALUE ...]

Every ``-p NAME VALUE`` of run_all.sh is checked against what the notebooks take and parsed to its type (``seeds``
to a list of integers, ``tune`` to a boolean, ...); ``--params-out`` writes them as YAML for ``papermill -f``, so a
list such as ``-p seeds "[0, 1]"`` (or ``"0 1"``) reaches the notebook as a list, not as a string.
"""

from __future__ import annotations

import ast
import math
import re
import sys
from pathlib import Path

import papermill as pm

from thesis_lib import CLASSES
from thesis_lib.core.catalogue import figure_ids, table_ids
from thesis_lib.core.atomic import check_writable
from thesis_lib.core.profiles import check_profile, default_figures_dir, default_results_dir
from thesis_lib.data.cifar10c import check_available
from thesis_lib.data.registry import DataError, verify_all
from thesis_lib.models import MODEL_NAMES
from thesis_lib.runs import cache

#: Set by run_all.sh's own options; a ``-p`` would override what this pre-flight checked.
RESERVED = {"profile": "--profile", "jobs": "--jobs"}


def _items(value: str) -> list:
    """``"[0, 1]"``, ``"(0, 1)"``, ``"0 1"``, ``"0,1"`` or ``"0"`` as a list of items (strings or literals)."""
    v = value.strip()
    if v[:1] in "[(":
        try:
            parsed = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            raise ValueError(f"{value!r} is not a list") from None
        return list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
    return [t for t in re.split(r"[,\s]+", v) if t]


def _int(x) -> int:
    if isinstance(x, bool):
        raise ValueError
    if isinstance(x, int):
        return x
    if isinstance(x, str) and re.fullmatch(r"[+-]?\d+", x.strip()):
        return int(x)
    raise ValueError


def _seeds(value: str):
    try:
        seeds = [_int(x) for x in _items(value)]
    except ValueError:
        seeds = None
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"{value!r} is not a list of integers >= 0 (e.g. -p seeds \"[0, 1]\")")
    return seeds


def _model_names():
    return MODEL_NAMES


def _model(value: str):
    name = value.strip().strip("'\"")
    if name not in _model_names():
        raise ValueError(f"{value!r} is not a model; valid names are: {', '.join(_model_names())}")
    return name


def _models(value: str):
    names = [str(x).strip().strip("'\"") for x in _items(value)]
    bad = [n for n in names if n not in _model_names()]
    if not names or bad:
        raise ValueError(f"{value!r} is not a list of models; valid names are: {', '.join(_model_names())}")
    return names


def _table_ids() -> tuple[str, ...]:
    """What a notebook's ``tables`` parameter may name: every table, and the figures drawn from runs (3.5, 3.6)."""
    return table_ids() + figure_ids(trained=True)


def _tables(value: str):
    v = value.strip()
    ids = [str(x) for x in ast.literal_eval(v)] if v[:1] in "[(" else [t for t in re.split(r"[,\s]+", v) if t]
    bad = [t for t in ids if t not in _table_ids()]
    if not ids or bad:
        raise ValueError(f"{value!r} names no table or unknown table(s) {bad}; tables (and figures drawn from runs) "
                         f"are: {', '.join(_table_ids())}")
    return ids


def _fraction(value: str):
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and 0 <= x <= 1):
        raise ValueError(f"{value!r} is not a number in [0, 1]")
    return x


def _bool(value: str):
    if value.strip() in ("True", "true", "1"):
        return True
    if value.strip() in ("False", "false", "0"):
        return False
    raise ValueError(f"{value!r} is not True or False")


def _device(value: str):
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value.strip()):
        raise ValueError(f"{value!r} is not a device (auto, cpu, cuda or cuda:N)")
    return value.strip()


def _boundary(value: str):
    names = [str(x).strip().strip("'\"") for x in _items(value)]
    if len(names) != 2 or any(n not in CLASSES for n in names):
        raise ValueError(f"{value!r} is not a pair of class names (e.g. -p boundary \"deer airplane\"); classes: "
                         f"{', '.join(CLASSES)}")
    return names


def _path(value: str):
    if not value.strip():
        raise ValueError("an empty path")
    return value


PARSERS = {"seeds": _seeds, "models": _models, "model": _model, "tables": _tables, "gamma": _fraction,
           "beta": _fraction, "confidence_gamma": _fraction, "tune": _bool, "device": _device,
           "boundary": _boundary, "results_dir": _path, "figures_dir": _path}


def _papermill_value(value: str):
    from papermill.cli import _resolve_type  # papermill's own -p typing; private, so only where it is used

    return _resolve_type(value)


def parse_params(pairs: list[str], known: set[str]) -> tuple[dict, list[str]]:
    """``[NAME, VALUE, ...]`` -> (typed parameters, errors)."""
    params, errors = {}, []
    if len(pairs) % 2:
        return params, [f"-p needs NAME VALUE; got {pairs[-1]!r} alone"]
    for name, value in zip(pairs[::2], pairs[1::2]):
        if name in RESERVED:
            errors.append(f"-p {name} is not allowed: use {RESERVED[name]} (it is what the pre-flight checks)")
        elif name not in known:
            errors.append(f"unknown notebook parameter {name!r}; the notebooks take: {', '.join(sorted(known))}")
        elif value.strip() == "None":
            params[name] = None
        elif name in PARSERS:
            try:
                params[name] = PARSERS[name](value)
            except ValueError as err:
                errors.append(f"bad value for notebook parameter {name!r}: {err}")
        else:
            params[name] = _papermill_value(value)
    return params, errors


def output_errors(profile: str, params: dict) -> list[str]:
    """The folders the notebooks write to, each proved writable now rather than failing after the training."""

    results = Path(params.get("results_dir") or default_results_dir())
    figures = Path(params.get("figures_dir") or default_figures_dir())
    errors = []
    for folder, what in ((default_results_dir() / "notebooks", "executed-notebook folder"),
                         (results / "tables", "tables folder"), (figures, "figures folder"),
                         (cache.runs_dir() / profile, "run cache folder")):
        try:
            check_writable(folder, what)
        except OSError as err:
            errors.append(err.strerror or str(err))
    return errors


def main(argv):
    pairs = argv[argv.index("--") + 1:] if "--" in argv else []
    args = argv[: argv.index("--")] if "--" in argv else list(argv)
    if not args or args[0] in ("-h", "--help"):      # the usage is this module's docstring
        print(__doc__.strip())
        return 0 if args else 2
    params_out = None
    if "--params-out" in args:
        i = args.index("--params-out")
        params_out = args[i + 1]
        del args[i:i + 2]
    profile, notebooks = args[0], args[1:]
    errors = []
    try:
        check_profile(profile)
    except ValueError as err:
        errors.append(str(err))
    known = {name for nb in notebooks for name in pm.inspect_notebook(nb)}
    params, bad = parse_params(pairs, known)
    errors += bad
    try:
        errors += verify_all()
    except DataError as err:
        errors.append(str(err))
    if any(Path(nb).name.startswith("05") for nb in notebooks):  # Chapter 5 scores on CIFAR-10-C corruptions
        try:
            check_available()
        except NotImplementedError as err:
            errors.append(str(err))
    if not errors:  # last, so that nothing is created when the command is refused anyway
        errors += output_errors(profile, params)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if errors:
        return 2
    if params_out:
        import yaml  # a papermill dependency, needed only to read a parameters file

        with open(params_out, "w") as fh:
            yaml.safe_dump(params, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
