"""Every command of README.md runs as written (issue 18).

The test reads every ```sh block of the README and runs each command line, in the README's order, with
bash in one fresh folder (the "clone root" of a new user: `examples/` and `tests/data/` are linked
into it, so the paths the README names resolve; everything the commands write lands in the fresh
folder). `hil` and `python` are this interpreter's (its bin folder first on PATH). Nothing is
substituted: the commands run with the README's own sizes, hence @pytest.mark.slow (training with
pruning, the CNV lowering, the hls4ml C-sim); CI's suite runs the same verbs in the README's order on
a tiny recipe in tests/unit/test_report_pipeline.py.

The ```make block (make demo / make test) is not run here: it installs the venv the suite runs in,
and `make test` from inside the suite would run the suite again. `make -n` checks that its targets
exist and expand.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def blocks(lang: str) -> list[list[str]]:
    """The command lines (comments and blank lines dropped) of every ```lang block, in order."""
    found = re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(), re.S | re.M)
    return [[ln.strip() for ln in b.splitlines() if ln.strip() and not ln.strip().startswith("#")] for b in found]


def test_example_files_the_readme_names_exist():
    text = README.read_text()
    named = set(re.findall(r"\b((?:examples|tests/data)/[\w./-]+\.\w+)", text))
    assert {"examples/cnv_folding.json", "examples/keras_like.onnx", "tests/data/TFC_1W1A.onnx"} <= named
    missing = [p for p in named if not (ROOT / p).is_file()]
    assert not missing, missing


def test_make_targets_of_the_readme_exist():
    (make,) = blocks("make")
    targets = [line.split()[1] for line in make]
    assert targets == ["demo", "test"]
    proc = subprocess.run(["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def sections_sh() -> list[tuple[str, list[str]]]:
    """(section title, its sh command lines in order) for every `## ` section with sh blocks."""
    out = []
    for part in re.split(r"^## ", README.read_text(), flags=re.M)[1:]:
        title = part.splitlines()[0]
        found = re.findall(r"^```sh\n(.*?)^```", part, re.S | re.M)
        lines = [ln.strip() for b in found for ln in b.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        if lines:
            out.append((title, lines))
    return out


@pytest.mark.slow
def test_every_sh_command_of_the_readme_runs(tmp_path):
    """Every sh command, as a reader runs them: each section's commands in one shell session (a `cd`
    in a section holds for the rest of it), every section starting at the same fresh folder."""
    commands = [c for b in blocks("sh") for c in b]
    assert len(commands) >= 20 and commands[0].startswith("hil train digits-mlp"), commands[:3]
    assert [c for _, lines in sections_sh() for c in lines] == commands  # no command left out
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "data").symlink_to(ROOT / "tests" / "data")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for title, lines in sections_sh():
        session = "set -euo pipefail\n" + "".join(f"echo {shlex.quote('+ ' + ln)} >&2\n{ln}\n" for ln in lines)
        proc = subprocess.run(["bash", "-c", session], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=3600)
        assert proc.returncode == 0, f"## {title}\n-> exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    # the README's order left the full page: every stage's JSON, nothing reported missing but metrics'
    run = tmp_path / "runs" / "d"
    page = (run / "report.html").read_text()
    for stem in ("export", "lower", "estimate", "emulate", "emulate_timeline", "build"):
        assert (run / f"{stem}.json").exists() and f"{stem}.json</th><td>not found" not in page, stem
    estimate = json.loads((run / "estimate.json").read_text())
    assert all(f'<tr data-layer="{r["name"]}">' in page for r in estimate["layers"])
    assert "Bottleneck:" in page and "Throughput target 200,000 fps" in page and "RF " in page
