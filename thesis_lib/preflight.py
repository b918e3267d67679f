"""run_all.sh's checks before any notebook starts: the profile, the data, and the papermill parameter names.

    python -m thesis_lib.preflight PROFILE NOTEBOOK [NOTEBOOK ...] [-- NAME ...]
"""

import sys

import papermill as pm

from thesis_lib.data.registry import DataError, verify_all
from thesis_lib.profiles import check_profile


def main(argv):
    names = argv[argv.index("--") + 1:] if "--" in argv else []
    args = argv[: argv.index("--")] if "--" in argv else argv
    profile, notebooks = args[0], args[1:]
    errors = []
    try:
        check_profile(profile)
    except ValueError as err:
        errors.append(str(err))
    try:
        errors += verify_all()
    except DataError as err:
        errors.append(str(err))
    known = {name for nb in notebooks for name in pm.inspect_notebook(nb)}
    for name in names:
        if name not in known:
            errors.append(f"unknown notebook parameter {name!r}; the notebooks take: {', '.join(sorted(known))}")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
