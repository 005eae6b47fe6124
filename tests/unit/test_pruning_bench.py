"""scripts/bench_compression.py --quick: the study runs end to end and writes its CSV, plot and table."""

import csv
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_bench_compression_quick(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_compression.py"), "--quick", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    methods = {r["method"] for r in rows}
    assert methods == {"float", "ptq", "qap", "channels-greedy", "channels-oneshot", "channels-weight"}
    assert len(rows) == 1 + 2 + 2 * 2 + 3  # float, PTQ at 2 widths, QAP 2 widths × 2 sparsities, 3 channel methods
    float_bops = float(next(r for r in rows if r["method"] == "float")["bops"])
    for r in rows:
        assert float(r["float_bops"]) == float_bops == 32 * 32 * (64 * 64 + 64 * 32 + 32 * 10)
        if r["method"].startswith("channels"):
            assert r["channels"] == "32/16/10"
    assert (tmp_path / "accuracy_vs_bops.png").stat().st_size > 10_000
    assert "greedy" in proc.stdout and "best pruned QAP point" in proc.stdout
