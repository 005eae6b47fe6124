"""Every script under scripts/ answers --help with exit 0 and a usage line, from a fresh process.

The benches and studies are run by hand, rarely, and long after they were last edited; a help string
with a bare '%' (argparse formats it) or an import the script cannot resolve from a checkout only shows
up when somebody needs the script. This catches both in ~10 s.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (ROOT / "scripts").glob("*.py") if not p.name.startswith("_"))


def test_there_are_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_answers_help(script: Path):
    run = subprocess.run([sys.executable, str(script), "--help"], cwd="/", capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("usage:"), run.stdout[:200]
