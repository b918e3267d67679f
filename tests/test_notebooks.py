"""Chapter notebooks run end to end under papermill in the smoke profile."""

import json
import os
from pathlib import Path

import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _smoke(notebook: str, tmp_path, monkeypatch, **parameters) -> Path:
    """Run a chapter notebook at the smoke profile into ``tmp_path``; returns its output folder."""
    monkeypatch.setenv("THESIS_RUNS_DIR", str(tmp_path / "runs"))
    out = tmp_path / f"{notebook}.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / f"{notebook}.ipynb"), str(out), cwd=str(ROOT / "notebooks"),
                        parameters={"profile": "smoke", "results_dir": str(tmp_path / "results"),
                                    "figures_dir": str(tmp_path / "figures"), **parameters}, progress_bar=False)
    return out


@pytest.mark.notebook
def test_notebook_03_smoke(tmp_path, monkeypatch):
    out = _smoke("03_cifar10s", tmp_path, monkeypatch)
    figures = {p.name for p in (tmp_path / "figures").iterdir()}
    for name in ("fig_3_2_label_varieties", "fig_3_3_similar_classes", "fig_3_4_cifar10s_vs_cifar10h",
                 "fig_B_1_highest_wasserstein", "fig_B_2_softening", "fig_B_5_simulator_fit",
                 "fig_3_5_annotation_cost", "fig_B_3_annotators", "fig_3_6_training_examples"):
        assert f"{name}.png" in figures
    tables = tmp_path / "results" / "tables"
    assert "participants (N)" in (tables / "chapter3_data_statistics.csv").read_text()
    for t in ("3_1", "3_2", "3_3", "3_4", "B_1", "B_2", "B_3"):
        md = (tables / f"table_{t}.md").read_text()
        assert "Profile: **smoke**" in md and " / " in md, t
        csv = (tables / f"table_{t}.csv").read_text()
        assert "thesis_in_ci" in csv and "smoke" in csv, t
        assert "difference" in (tables / f"provenance_{t}.csv").read_text(), t   # the provenance cell ran
    assert len(list((tmp_path / "runs" / "smoke").glob("*.json"))) >= 30  # every run went through the cache
    executed = json.loads(out.read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.notebook
def test_notebook_04_smoke(tmp_path, monkeypatch):
    _smoke("04_hmix", tmp_path, monkeypatch)
    figures = {p.name for p in (tmp_path / "figures").iterdir()}
    for name in ("fig_4_0_stimuli", "fig_4_2_inferred_vs_generating", "fig_4_3_example_relabellings",
                 "fig_4_4_category_boundary", "fig_4_5_confidence_by_entropy"):
        assert f"{name}.png" in figures
    tables = tmp_path / "results" / "tables"
    for t in ("4_1", "4_2", "4_3"):
        assert "Profile: **smoke**" in (tables / f"table_{t}.md").read_text(), t
        assert "difference" in (tables / f"provenance_{t}.csv").read_text(), t   # the provenance cell ran
    statements = (tables / "chapter4_statements.csv").read_text()
    assert "stimulus" in statements and "judgement" in statements
    assert len(list((tmp_path / "runs" / "smoke").glob("*.json"))) == 8  # 8 distinct label methods (Tables 4.1-4.3), one seed


@pytest.mark.notebook
def test_notebook_05_smoke(tmp_path, monkeypatch):
    _smoke("05_soft_mixup", tmp_path, monkeypatch)
    figures = {p.name for p in (tmp_path / "figures").iterdir()}
    assert {"fig_5_1_human_soft_label.png", "fig_C_1_tau_curves.png", "fig_claims_forest.png"} <= figures
    tables = tmp_path / "results" / "tables"
    for t in ("5_1", "5_2", "C_1"):
        md = (tables / f"table_{t}.md").read_text()
        assert "Profile: **smoke**" in md and "Corruption CE" in md, t
        assert "difference" in (tables / f"provenance_{t}.csv").read_text(), t   # the provenance cell ran
    assert "38.3" in (tables / "chapter5_soft_composition.csv").read_text()
    assert len(list((tmp_path / "runs" / "smoke").glob("*.json"))) == 13  # 10 algorithm/endpoint runs + C.1 at alpha 0.2


@pytest.mark.notebook
def test_notebook_05_tunes_alpha_and_kappa(tmp_path, monkeypatch):
    """tune=True re-makes section 5.2.2's validation choices and trains Table 5.1 with them."""
    out = _smoke("05_soft_mixup", tmp_path, monkeypatch, tune=True, tables=["5.1"])
    tables = tmp_path / "results" / "tables"
    for what in ("mixmaxent_alpha", "entwc_alpha", "entwc_kappa"):
        frame = (tables / f"chapter5_validation_{what}.csv").read_text()
        assert "validation CE" in frame, what
    assert len((tables / "chapter5_validation_entwc_kappa.csv").read_text().splitlines()) == 1 + 5
    assert "chosen:" in out.read_text()
    assert "Profile: **smoke**" in (tables / "table_5_1.md").read_text()


def test_bad_papermill_parameter_is_a_clear_error(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="unknown profile"):
        pm.execute_notebook(str(ROOT / "notebooks" / "03_cifar10s.ipynb"), str(tmp_path / "bad.ipynb"),
                            cwd=str(ROOT / "notebooks"), parameters={"profile": "fast"}, progress_bar=False)


def test_source_notebooks_have_no_outputs():
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"), nb
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), f"{nb} lacks a parameters cell"
