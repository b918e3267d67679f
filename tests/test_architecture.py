"""The package's layering (ARCHITECTURE.md): the import graph has no cycle, the engine imports no chapter, the
package's own modules are imported at the top of each file, every command line lives in ``cli/``, one thesis
catalogue (every table id, caption and protocol value in one place), every chapter offers the same two functions,
every notebook code cell is one statement defining nothing, and the moves changed no run key."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "thesis_lib"


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of thesis_lib it imports}``, every import counted (inside functions too), relative
    imports resolved; ``from pkg import sub`` counts as importing ``pkg.sub`` (not ``pkg``) when ``sub`` is a
    module."""
    mods = _modules()

    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, (path, is_pkg) in mods.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    found.add(sub if sub in mods else module)
        graph[mod] = {o for o in (owner(n) for n in found if n.split(".")[0] == "thesis_lib") if o and o != mod}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert "thesis_lib.runs.run" in graph and graph["thesis_lib.runs.run"], "the graph found no imports"
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_engine_imports_no_chapter_nor_anything_above_it():
    """The training loop, the run cache and the executors resolve a chapter through the registry at run time."""
    graph = import_graph()
    engine = [m for m in graph if m.startswith(("thesis_lib.training", "thesis_lib.runs", "thesis_lib.core",
                                                "thesis_lib.data", "thesis_lib.labels", "thesis_lib.models"))]
    assert "thesis_lib.runs.execute" in engine and "thesis_lib.training.multirun" in engine
    above = ("thesis_lib.chapters", "thesis_lib.reporting", "thesis_lib.notebook", "thesis_lib.cli")
    shims = {"thesis_lib.run", "thesis_lib.grid", "thesis_lib.allocate", "thesis_lib.report", "thesis_lib.preflight",
             "thesis_lib.metrics", "thesis_lib.cache"}
    bad = {m: sorted(t for t in graph[m] if t.startswith(above) or t in shims) for m in engine}
    assert not {m: t for m, t in bad.items() if t}


def test_layers_point_one_way():
    """data -> labels -> models / training -> runs -> chapters -> reporting -> notebook -> cli, core at the bottom."""
    order = ["thesis_lib.core", "thesis_lib.data", "thesis_lib.labels", "thesis_lib.models", "thesis_lib.training",
             "thesis_lib.runs", "thesis_lib.chapters", "thesis_lib.reporting", "thesis_lib.notebook", "thesis_lib.cli"]

    def layer(mod: str) -> int | None:
        hits = [i for i, p in enumerate(order) if mod == p or mod.startswith(p + ".")]
        return hits[0] if hits else None

    graph = import_graph()
    upward = []
    for mod, targets in graph.items():
        for t in targets:
            a, b = layer(mod), layer(t)
            # models and training are side by side: neither imports the other
            if a is not None and b is not None and (b > a or {a, b} == {3, 4} and a != b):
                upward.append(f"{mod} -> {t}")
    assert not upward


def test_chapter_registry_resolves_every_chapter():
    from thesis_lib.runs.chapters import CHAPTERS, chapter_module

    for number, path in CHAPTERS.items():
        mod = chapter_module(number)
        assert mod.__name__ == path and callable(mod.run_data) and callable(mod.check_label_method)
    with pytest.raises(NotImplementedError):
        chapter_module(7)


def _code_cells(nb: Path):
    for cell in json.loads(nb.read_text())["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            # IPython magics and shell escapes are not Python
            yield "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


@pytest.mark.parametrize("nb", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_notebook_cell_defines_a_function_or_class(nb):
    defined = [f"{type(n).__name__} {n.name}" for src in _code_cells(nb) for n in ast.walk(ast.parse(src))
               if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert not defined, f"{nb.name} defines {defined}: move them into thesis_lib"


def test_the_move_changed_no_run_key():
    """Keys computed before the package was layered (issue 17): a spec of each chapter hashes as it did. Updated
    once, on purpose, for CACHE_VERSION 3 (issue 20: per-epoch draws); a change of any other kind must not move them."""
    from thesis_lib.runs.spec import make_spec

    keys = {3: ("T2Clamp", "0bbd4c4d543670fadaf0"), 4: ("agg", "0037d28caa07ae91650f"),
            5: ("ent_wc", "66cc1e1a0c3e3110a82e")}
    for chapter, (method, key) in keys.items():
        assert make_spec(chapter, method, "small_cnn", 0, "smoke", images="mirror_reconstruction").key == key


def own_imports_inside_functions() -> list[str]:
    """``path:line`` of every import of thesis_lib's own modules made inside a function (relative ones too), unless
    its line says ``# cycle:`` (it breaks a real import cycle, named in the comment)."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        src = path.read_text()
        lines = src.splitlines()
        for fn in ast.walk(ast.parse(src, str(path))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            for node in ast.walk(fn):
                own = (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "thesis_lib" for a in node.names)
                       or isinstance(node, ast.ImportFrom)
                       and (node.level > 0 or (node.module or "").split(".")[0] == "thesis_lib"))
                if own and not any("# cycle:" in line for line in lines[node.lineno - 1:node.end_lineno]):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return sorted(set(found))


def test_own_modules_are_imported_at_the_top():
    """No module imports the package's own modules inside a function, unless that import breaks a real cycle and
    says so (``# cycle: a -> b -> a``): what a module needs shows at its top."""
    assert not own_imports_inside_functions()


SHIMS = {"run", "grid", "allocate", "report", "preflight", "metrics", "cache"}  # thesis_lib/<name>.py: typed names


def entry_points_outside_cli() -> list[str]:
    """Modules outside ``thesis_lib/cli/`` with a command line: a top-level ``def main``, an ``argparse`` import or
    an ``if __name__ == "__main__"`` block. A re-export module (``thesis_lib/run.py`` ...) may run its ``main`` as
    ``python -m thesis_lib.run``, but only one imported from ``thesis_lib.cli``."""
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "cli":
            continue
        tree = ast.parse(path.read_text(), str(path))
        shim = len(rel.parts) == 1 and rel.stem in SHIMS
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names) or \
                    isinstance(node, ast.ImportFrom) and node.module == "argparse":
                bad.append(f"{rel}: imports argparse")
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main":
                bad.append(f"{rel}: def main")
            if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) and not shim:
                bad.append(f"{rel}: runs as __main__")
        if shim:
            mains = [n for n in tree.body if isinstance(n, ast.ImportFrom) and any(a.name == "main" for a in n.names)]
            if any(not (m.module or "").startswith("thesis_lib.cli.") for m in mains):
                bad.append(f"{rel}: main not from thesis_lib.cli")
    return bad


def test_every_entry_point_lives_in_cli():
    assert not entry_points_outside_cli()
    import thesis_lib.cli.allocate
    import thesis_lib.cli.grid
    import thesis_lib.cli.preflight
    import thesis_lib.cli.report
    import thesis_lib.cli.run
    from thesis_lib import allocate, grid, preflight, report, run

    for shim, command in ((allocate, thesis_lib.cli.allocate), (grid, thesis_lib.cli.grid),
                          (preflight, thesis_lib.cli.preflight), (report, thesis_lib.cli.report),
                          (run, thesis_lib.cli.run)):
        assert shim.main is command.main, shim.__name__


def test_the_structure_checks_can_fail(tmp_path, monkeypatch):
    """The two checks above find a violation when there is one (a copy of the package with one planted)."""
    import shutil

    copy = tmp_path / "thesis_lib"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "runs" / "spec.py", "a") as f:
        f.write("\n\ndef _late():\n    from thesis_lib.core import profiles  # noqa\n    return profiles\n\n\n"
                "def main(argv=None):\n    import argparse\n    return argparse\n")
    with open(copy / "runs" / "cache.py", "a") as f:
        f.write("\n\ndef _late():\n    from thesis_lib.core import atomic  # cycle: planted, allowed\n    return atomic\n")
    monkeypatch.setitem(globals(), "PKG", copy)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert own_imports_inside_functions() == [f"thesis_lib/runs/spec.py:{len((copy / 'runs' / 'spec.py').read_text().splitlines()) - 6}"]
    assert entry_points_outside_cli() == ["runs/spec.py: imports argparse", "runs/spec.py: def main"]


def test_old_entry_points_still_import():
    """What users type keeps working: the README's imports and ``python -m`` names."""
    import thesis_lib.cache
    import thesis_lib.metrics
    from thesis_lib import allocate, grid, preflight, report, run
    from thesis_lib.labels import cifar10s_annotator_labels  # noqa: F401

    assert callable(thesis_lib.cache.load_outputs) and callable(thesis_lib.metrics.metrics_from_outputs)
    for mod in (allocate, grid, preflight, report, run):
        assert callable(mod.main)
    assert callable(run.run_grid) and callable(run.run_records)


def test_preflight_answers_help(capsys):
    """The pre-flight prints its usage for --help and exits 0 (it once read --help as a profile name)."""
    from thesis_lib.cli import preflight

    assert preflight.main(["--help"]) == 0 and "python -m thesis_lib.preflight PROFILE" in capsys.readouterr().out
    assert preflight.main([]) == 2


# ---------------------------------------------------------------------------------------------------------------
# One thesis catalogue, one chapter contract, one call per notebook cell (issue 23)
# ---------------------------------------------------------------------------------------------------------------

CATALOGUE = PKG / "core" / "catalogue.py"
TABLE_ID = re.compile(r"[345BC]\.[0-9]")
#: parameter / field names that take a protocol value of the catalogue's HYP, and the HYP entries they may hold
HYP_NAMES = {"gamma": ("gamma",), "beta": ("beta",), "confidence_gamma": ("confidence_gamma",),
             "fgsm_eps": ("fgsm_eps",), "eps": ("fgsm_eps",), "kappa": ("kappa",), "annotators": ("annotators",),
             "maxent_weight": ("maxent_weight",), "k": ("logistic_k",), "validation_size": ("validation_size",),
             "alpha": ("mixup_alpha", "maxent_alpha", "ent_wc_alpha")}


def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def catalogue_copies(pkg: Path = None) -> list[str]:
    """Places outside the catalogue that restate it: a literal list of three or more table ids (a chapter's or the
    thesis's tables), a table's or figure's caption, or a protocol value of ``HYP`` written as a literal default
    (a function's parameter, a dataclass field or an ``add_argument`` default of a HYP-named setting)."""
    from thesis_lib.core import catalogue

    pkg = pkg or PKG
    captions = [t.caption for t in catalogue.TABLES.values()] + [f.caption for f in catalogue.FIGURES]
    bad = []
    for path in sorted(pkg.rglob("*.py")):
        if path.relative_to(pkg) == CATALOGUE.relative_to(PKG):
            continue
        rel, src = path.relative_to(pkg), path.read_text()
        bad += [f"{rel}: caption {c[:40]!r}" for c in captions if c[:40] in src]
        for node in ast.walk(ast.parse(src, str(path))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                ids = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
                       and TABLE_ID.fullmatch(e.value)]
                if len(ids) >= 3:
                    bad.append(f"{rel}:{node.lineno}: table ids {ids}")
            pairs = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                pos = a.posonlyargs + a.args
                pairs += list(zip(pos[len(pos) - len(a.defaults):], a.defaults)) + list(zip(a.kwonlyargs, a.kw_defaults))
                pairs = [(arg.arg, d) for arg, d in pairs if d is not None]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                pairs.append((node.target.id, node.value))
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and node.args:
                flag = _literal(node.args[0])
                pairs += [(str(flag).lstrip("-").replace("-", "_"), k.value) for k in node.keywords if k.arg == "default"]
            for name, default in pairs:
                value = _literal(default)
                if name in HYP_NAMES and value is not None and value in [catalogue.HYP[h] for h in HYP_NAMES[name]]:
                    bad.append(f"{rel}:{default.lineno}: {name} = {value!r} restates HYP")
    return bad


def test_one_thesis_catalogue():
    """A table id list, a caption or a protocol value lives in the catalogue only; the chapters' tables, the
    report's order and the pre-flight's ids are read from it."""
    from thesis_lib.chapters import grids
    from thesis_lib.core import catalogue

    assert not catalogue_copies()
    for chapter, mod in grids.GRIDS.items():
        assert mod.TABLES == catalogue.table_ids(chapter)
    assert not (PKG / "reporting" / "reference.py").exists()


def test_the_catalogue_check_can_fail(tmp_path):
    import shutil

    copy = tmp_path / "thesis_lib"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "chapters" / "ch4" / "grid.py", "a") as f:
        f.write('\n\nOLD = ("4.1", "4.2", "4.3")\n\n\ndef smooth(gamma: float = 0.005, confidence_gamma=0.005):\n'
                '    return "Confidence smoothing gamma^omega (gamma = 0.005)"\n')
    found = sorted(set(catalogue_copies(copy)) - set(catalogue_copies()))
    assert len(found) == 3 and any("table ids" in f for f in found) and any("caption" in f for f in found)
    assert any("confidence_gamma = 0.005 restates HYP" in f for f in found)


def test_every_chapter_offers_the_same_two_functions():
    """``chapters/chN/grid.build(profile, **params) -> Grid`` with the common parameters, and
    ``chapters/chN/runs.run_data(spec) -> RunData``, registered for the engine."""
    import inspect

    from thesis_lib.chapters import grids
    from thesis_lib.runs.chapters import CHAPTERS, chapter_module
    from thesis_lib.runs.grid import Grid

    common = ["profile", "seeds", "models", "tables", "figures", "images", "rules"]
    assert sorted(grids.GRIDS) == sorted(CHAPTERS) == [3, 4, 5]
    for chapter, mod in grids.GRIDS.items():
        assert list(inspect.signature(mod.build).parameters)[:len(common)] == common, chapter
        grid = mod.build("smoke", images="official")
        assert isinstance(grid, Grid) and set(grid.tables) == set(mod.TABLES) and grid.specs(), chapter
        runs = chapter_module(chapter)
        assert inspect.signature(runs.run_data).return_annotation in ("RunData", runs.RunData), chapter
        assert mod.__name__.rsplit(".", 1)[0] == runs.__name__.rsplit(".", 1)[0], chapter


def _parameters_cell(nb: Path) -> str:
    cells = json.loads(nb.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{nb.name}: one parameters cell"
    return "".join(tagged[0]["source"])


def _statement_cells(nb: Path) -> list[tuple[int, str]]:
    cells = json.loads(nb.read_text())["cells"]
    return [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"
            and "parameters" not in c.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("nb", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_notebook_code_cell_is_one_statement(nb):
    """Each code cell (the parameters cell aside) is one call or assignment: the analysis is the library's."""
    long = [f"cell {i}: {len(ast.parse(src).body)} statements" for i, src in _statement_cells(nb)
            if len(ast.parse(src).body) != 1]
    assert not long, f"{nb.name}: {long}"


@pytest.mark.parametrize("nb", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebook_parameters_take_the_thesis_values_from_the_catalogue(nb):
    """A parameter that is a protocol value (gamma, beta, confidence_gamma...) defaults to None, the thesis's
    value from the catalogue, so the notebook never restates it."""
    for node in ast.parse(_parameters_cell(nb)).body:
        if isinstance(node, ast.Assign) and node.targets[0].id in HYP_NAMES:
            assert _literal(node.value) is None, f"{nb.name}: {node.targets[0].id}"


def test_no_repeated_glue_in_notebooks_or_package():
    """The two lines issue 23 counted 5 and 3 times: the library takes device "auto" itself, and the records of a
    grid by key come from one call (``runs.run.run_records``, the only place that builds them)."""
    files = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(PKG.rglob("*.py"))
    texts = {p.relative_to(ROOT).as_posix(): p.read_text().replace('\\"', '"') for p in files}
    assert not [p for p, t in texts.items() if 'None if device == "auto"' in t]
    assert [p for p, t in texts.items() if 'r["key"]: r for r in run_grid' in t] == ["thesis_lib/runs/run.py"]


def test_architecture_md_is_one_screen_and_true():
    """ARCHITECTURE.md fits a screen, and every folder, module and function it names exists."""
    import importlib

    text = (ROOT / "ARCHITECTURE.md").read_text()
    assert len(text.splitlines()) <= 50
    block = text.split("```")[1]
    for line in block.strip().splitlines():
        folder = line.split()[0]
        if folder.endswith("/"):
            assert (PKG / folder).is_dir(), folder
            for name in re.findall(r"\b([a-z_0-9]+)\.py\b", line):
                assert list(PKG.rglob(f"{name}.py")), name
    missing = []
    for dotted in set(re.findall(r"`([a-z_0-9]+(?:\.[A-Za-z_0-9]+)+)", text)):
        if dotted.endswith((".py", ".md", ".json", ".npz", ".html")) or dotted.startswith("thesis_lib.") is False \
                and dotted.split(".")[0] not in {p.name for p in PKG.iterdir() if p.is_dir()}:
            continue
        parts = dotted.removeprefix("thesis_lib.").split(".")
        for cut in range(len(parts), 0, -1):        # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module("thesis_lib." + ".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            if obj is None:
                missing.append(dotted)
            break
        else:
            missing.append(dotted)
    assert not missing
