"""bench/throughput.py runs end to end and reports what it measured (numbers are timed, so only their sanity)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_benchmark_reports_both_loops_and_concurrency(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "throughput.py"), "--n-images", "256", "--epochs", "2",
                           "--workers", "1", "--concurrent", "2", "--stacked", "1", "2", "--device", "cpu",
                           "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "b/a =" in proc.stdout and "concurrent" in proc.stdout
    r = json.loads(out.read_text())
    a, b = r["a_reference"]["images_per_s"], r["b_thesis_lib"]["images_per_s"]
    assert a > 0 and b > 0 and abs(r["ratio_b_over_a"] - b / a) < 1e-9
    assert len(r["a_reference"]["epoch_s"]) == 2 and r["concurrent"][0]["runs"] == 2
    assert r["concurrent"][0]["images_per_s"] > 0 and r["environment"]["torch"].startswith("2.14.1")
    assert [c["runs"] for c in r["stacked"]] == [1, 2] and r["peak"]["tflops"] > 0
    for c in r["stacked"]:
        assert c["images_per_s"] > 0 and 0 < c["fraction_of_peak"] < 1
        assert abs(c["ratio_over_a"] - c["images_per_s"] / a) < 1e-9
    assert "(c) 2 runs stacked" in proc.stdout


def test_throughput_benchmark_rejects_bad_arguments():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "throughput.py"), "--epochs", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--epochs must be >= 2" in proc.stderr
