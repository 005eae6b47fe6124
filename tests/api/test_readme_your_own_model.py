"""The README's "Your own model" section runs as written (issue 9, item 7): its sh and python blocks,
in order, in one bash session started at a copy of the repository's examples/ (so `cp examples/...`
and `cd mywork` work as the text says), with this interpreter's `python` and `hil` first on PATH; the
`text` block's command is run and must fail with the error line it shows (up to its "...").
The full run is marked slow; tests/api/test_api.py runs the same API and CLI on examples/my_cnn.py in
CI's suite."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```(sh|python|text)\n(.*?)```", re.S)


def section(title: str = "## Your own model") -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:end if end >= 0 else None]


def script(blocks: list[tuple[str, str]]) -> str:
    """One bash script: sh blocks verbatim, python blocks fed to `python -` (a heredoc)."""
    lines = ["set -euo pipefail"]
    for kind, body in blocks:
        if kind == "sh":
            lines.append(body)
        elif kind == "python":
            lines.append(f"python - <<'HIL_README_PY'\n{body}HIL_README_PY")
    return "\n".join(lines) + "\n"


def test_the_section_has_the_walkthrough():
    blocks = BLOCK.findall(section())
    kinds = [k for k, _ in blocks]
    assert kinds.count("python") == 1 and kinds.count("sh") == 2 and kinds.count("text") == 1
    api = dict(blocks)["python"]
    for call in ("hil.export(", "hil.lower(", "hil.estimate(", "hil.emulate(", "hil.build("):
        assert call in api
    assert "hil export --module my_cnn.py:MyCNN --weights my_cnn.pt --input-shape 1,1,8,8" in section()


@pytest.mark.slow  # ~70 s of CPU (training, two exports, two lowerings); tests/api/test_api.py runs the same
def test_your_own_model_section_runs_as_written(tmp_path):  # functions in-process on the same model, in CI's suite
    pytest.importorskip("brevitas")
    pytest.importorskip("hls4ml")
    blocks = BLOCK.findall(section())
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
           f"{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-c", script(blocks)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    work = tmp_path / "mywork"
    assert "mismatches=0" in proc.stdout and "accuracy" in proc.stdout
    for made in ("my_cnn.onnx", "my_cnn_df.onnx", "y.npy", "my_cnn_prj/host.py", "my_cnn_cli_prj/host_steps.json"):
        assert (work / made).exists(), made

    (text,) = [body for kind, body in blocks if kind == "text"]
    command, expected = [ln for ln in text.splitlines() if ln.strip()][:2]
    assert command.startswith("$ hil ")
    proc = subprocess.run(["bash", "-c", command[2:]], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    prefix = expected.split("[...]")[0]
    assert proc.returncode == 2 and proc.stderr.startswith(prefix), proc.stderr
    assert not (work / "strict.onnx").exists()
