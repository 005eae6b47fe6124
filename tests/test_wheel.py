"""The built wheel works on its own: installed (not editable) into a fresh venv, run from outside the repo.

The wheel is built from a copy of the sources (so no stale build/ folder of the checkout leaks into it),
installed with `pip install --no-deps --no-index`, and its dependencies come from the interpreter running
this test through a `.pth` file (a plain path line: the editable install of the repo that this site
holds is a .pth import hook, which a path line does not run). The commands then run with an empty
PYTHONPATH from a temporary folder, and the first checks that `toolchain` and `hw` resolve to the
fresh venv, not to the repository. Not marked slow: it runs in `make test` (about 30 s).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_IN_COPY = shutil.ignore_patterns(".venv", ".git", "build", "dist", "runs", "*.egg-info", "__pycache__",
                                      ".pytest_cache", ".hypothesis")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(bin folder of a fresh venv holding only the wheel, environment to run it in, the wheel)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=SKIP_IN_COPY)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    # no build isolation: setuptools and wheel come from this interpreter, no index is contacted
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index",
          "-q", "-w", str(base / "dist")], cwd=base, env=env)
    (wheel,) = (base / "dist").glob("hil_toolchain-*.whl")

    venv = base / "fresh"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=base, env=env)
    py = venv / "bin" / "python"
    fresh_site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           cwd=base, env=env).stdout.strip())
    # the dependencies: this interpreter's site folders, appended after the fresh venv's own
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (fresh_site / "hil_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    _run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=base, env=env)
    return venv / "bin", env, wheel


def test_wheel_contents(installed):
    """Package data ships (zoo, devices, the hls4ml header); tests and scripts do not."""
    names = zipfile.ZipFile(installed[2]).namelist()
    assert {"toolchain/recipes/digits-mlp.yaml", "toolchain/recipes/cnv-w1a1.yaml", "hw/devices/pynq-z1-z2.yaml",
            "toolchain/backends/hls4ml_ext/nnet_hil_threshold.h", "toolchain/schemas/estimate.schema.json"} <= set(names)
    top = {n.split("/")[0] for n in names if not n.startswith("hil_toolchain-")}
    assert top == {"toolchain", "hw", "hil"}, top  # hil: the Python API package (`import hil`)


def test_installed_wheel_runs_outside_the_repo(installed, tmp_path):
    bindir, env, _ = installed
    where = _run([str(bindir / "python"), "-c", "import toolchain, hw, hil; print(toolchain.__file__); print(hw.__file__); print(hil.__file__)"],
                 cwd=tmp_path, env=env).stdout.split()
    fresh = bindir.parent.resolve()
    for path in where:
        assert Path(path).resolve().is_relative_to(fresh), f"{path} is not the installed package"
        assert not Path(path).resolve().is_relative_to(ROOT), path

    hil = str(bindir / "hil")
    assert "export" in _run([hil, "--help"], cwd=tmp_path, env=env).stdout
    # a recipe of the zoo by name: fails with "unknown recipe" if the wheel lacks the package data
    _run([hil, "export", "digits-mlp", "--untrained", "-o", "m.onnx"], cwd=tmp_path, env=env)
    _run([hil, "lower", "m.onnx", "-o", "d.onnx"], cwd=tmp_path, env=env)
    est = json.loads(_run([hil, "estimate", "d.onnx", "--json"], cwd=tmp_path, env=env).stdout)
    assert [layer["op"] for layer in est["layers"]] == ["MVAU", "FIFO", "MVAU", "FIFO", "MVAU"], est
    assert est["network"]["max_cycles"] > 0 and est["fits"], est
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.onnx", "m.onnx"]
