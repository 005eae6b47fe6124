"""The user guide builds as a static site (issue 18): `mkdocs build --strict` on mkdocs.yml, into a
temporary folder; strict mode turns a broken link, a page missing from the navigation or a navigation
entry without a page into a failure. mkdocs comes with the `docs` extra (in `all`, which `make test`
installs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ("tutorial", "dataflow-ir", "cost-models", "timing-model", "limitations")


def test_docs_build_strict(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(site)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (site / "index.html").exists()
    for page in GUIDE:
        html = (site / "guide" / page / "index.html").read_text()
        assert "<h1" in html, page
    tutorial = (site / "guide" / "tutorial" / "index.html").read_text()
    assert "hil train my-cnn.yaml --out runs/mine" in tutorial and "hil report runs/mine" in tutorial
