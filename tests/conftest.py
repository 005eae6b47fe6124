"""Shared fixtures: small generated data files and the CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `hil` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "toolchain.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture
def jet_hlf_file(tmp_path: Path) -> Path:
    """A small file in the OpenML hls4ml_lhc_jets_hlf CSV format (synthetic values, real column names)."""
    from toolchain.data import JET_CLASSES, JET_FEATURES

    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, len(JET_CLASSES), n)
    centers = rng.normal(size=(len(JET_CLASSES), len(JET_FEATURES))) * 2
    x = centers[y] + rng.normal(size=(n, len(JET_FEATURES)))
    path = tmp_path / "jets_hlf.csv"
    lines = [",".join((*JET_FEATURES, "class"))]
    lines += [",".join([*(f"{v:.6f}" for v in row), f"'{JET_CLASSES[c]}'"]) for row, c in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def jet_recipe(tmp_path: Path, jet_hlf_file: Path) -> Path:
    """The jet-mlp recipe pointed at the generated HLF file."""
    import yaml

    from toolchain.zoo import ZOO_DIR

    data = yaml.safe_load((ZOO_DIR / "jet-mlp.yaml").read_text())
    data["dataset"]["path"] = str(jet_hlf_file)
    path = tmp_path / "jet-mlp.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
