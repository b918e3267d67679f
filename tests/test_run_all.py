"""./run_all.sh end to end at the smoke profile, and its clear errors."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import torch

from thesis_lib.reporting import claims

ROOT = Path(__file__).resolve().parents[1]


def _run_all(tmp_path, *args, **env):
    e = dict(os.environ, THESIS_RESULTS_DIR=str(tmp_path / "results"), THESIS_FIGURES_DIR=str(tmp_path / "figures"),
             **env)
    return subprocess.run([str(ROOT / "run_all.sh"), *args], cwd=ROOT, env=e, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.notebook
def test_run_all_smoke_end_to_end(tmp_path):
    out = _run_all(tmp_path, "--profile", "smoke", "--jobs", "1")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for warning in ("not specified with any extension", "does not end in one of"):  # the parameters file is .yaml
        assert warning not in out.stdout + out.stderr
    assert "PosixPath(" not in (tmp_path / "results" / "notebooks" / "03_cifar10s.ipynb").read_text()
    results = tmp_path / "results"
    assert {p.name for p in (results / "notebooks").iterdir()} == {  # each executed notebook and its HTML copy
        f"{n}.{ext}" for n in ("03_cifar10s", "04_hmix", "05_soft_mixup") for ext in ("ipynb", "html")}
    executed = json.loads((results / "notebooks" / "05_soft_mixup.ipynb").read_text())
    assert any("image/png" in o.get("data", {}) for c in executed["cells"] for o in c.get("outputs", [])), \
        "figures stay inline in executed notebooks"
    report = (results / "REPORT.md").read_text()
    assert "**Profile: smoke**" in report and "## The thesis's claims" in report
    for tid in ("3.1", "3.4", "B.3", "4.3", "5.1", "5.2", "C.1"):
        assert f"### Table {tid}." in report
    assert "*Not run at this profile.*" not in report and "| not run |" not in report
    section = report.split('<div class="claims">', 1)[1].split("</div>", 1)[0]   # the claims table only
    claim_rows = [line.split(" | ") for line in section.splitlines() if re.match(r"\| [0-9A-C]\.[0-9] \| ", line)]
    assert len(claim_rows) == len(claims.CLAIMS) and all(r[3].startswith("indicative (not the thesis protocol): ") and "**" not in r[3]
                                         for r in claim_rows), "smoke verdicts are indicative, never bold findings"
    html = (results / "REPORT.html").read_text()
    assert len(list((tmp_path / "figures").glob("*.png"))) >= 14
    assert html.count('src="data:image/png;base64,') >= 14 and "Fig. 3.5." in html   # figures embedded
    assert len(list((results / "runs" / "smoke").glob("*.json"))) >= 48


def test_unknown_parameter_is_a_clear_error(tmp_path):
    out = _run_all(tmp_path, "--profile", "smoke", "-p", "learning_rate", "0.1")
    assert out.returncode == 2 and "unknown notebook parameter 'learning_rate'" in out.stderr
    assert not (tmp_path / "results" / "notebooks").exists()   # nothing ran


def test_missing_data_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    out = _run_all(tmp_path, "--profile", "smoke", THESIS_DATA_DIR=str(tmp_path / "empty"))
    assert out.returncode == 2 and "Missing data file" in out.stderr and "cifar10h-counts.npy" in out.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised where no GPU is present")
def test_full_without_gpu_suggests_quick(tmp_path):
    out = _run_all(tmp_path, "--profile", "full")
    assert out.returncode == 2 and "needs a CUDA GPU" in out.stderr and "quick" in out.stderr


def test_bad_arguments(tmp_path):
    assert _run_all(tmp_path, "--profile", "fast").returncode == 2
    assert _run_all(tmp_path, "--jobs", "zero").returncode == 2
    assert "no notebook matched" in _run_all(tmp_path, "--profile", "smoke", "--only", "09").stderr
