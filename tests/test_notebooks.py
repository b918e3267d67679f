"""Chapter notebooks run end to end under papermill in the smoke profile."""

import json
import os
from pathlib import Path

import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.notebook
def test_notebook_03_smoke(tmp_path):
    out = tmp_path / "03.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "03_cifar10s.ipynb"), str(out), cwd=str(ROOT / "notebooks"),
                        parameters={"profile": "smoke", "results_dir": str(tmp_path / "results"),
                                    "figures_dir": str(tmp_path / "figures")}, progress_bar=False)
    figures = {p.name for p in (tmp_path / "figures").iterdir()}
    for name in ("fig_3_2_label_varieties", "fig_3_3_similar_classes", "fig_3_4_cifar10s_vs_cifar10h",
                 "fig_B_1_highest_wasserstein", "fig_B_2_softening", "fig_B_5_simulator_fit"):
        assert f"{name}.png" in figures
    stats = (tmp_path / "results" / "tables" / "chapter3_data_statistics.csv").read_text()
    assert "participants (N)" in stats
    executed = json.loads(out.read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_bad_papermill_parameter_is_a_clear_error(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="unknown profile"):
        pm.execute_notebook(str(ROOT / "notebooks" / "03_cifar10s.ipynb"), str(tmp_path / "bad.ipynb"),
                            cwd=str(ROOT / "notebooks"), parameters={"profile": "fast"}, progress_bar=False)


def test_source_notebooks_have_no_outputs():
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"), nb
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), f"{nb} lacks a parameters cell"
