"""scripts/reproduce_seed.py and scripts/reproduce_psqs.py --quick: the studies run end to end, write their
CSVs and reports; the Fashion-MNIST loader refuses in one line when the package is missing."""

import csv
import math
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _script(name: str):
    """A script under scripts/ as a module, so the test runs it in this process (no interpreter start)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_reproduce_seed_quick(tmp_path, capsys):
    # in this process (--workers 1): the same tasks as the worker pool, without spawning interpreters
    assert _script("reproduce_seed").main(["--quick", "--workers", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    # dense float, quantization-only W4A4; per arm (greedy, oneshot, narrow) at 50 %: float-pruned and W4A4
    assert sorted((r["arm"], r["weight_bits"]) for r in rows) == sorted(
        [("dense", "32"), ("quant-only", "4")] + [(a, b) for a in ("greedy", "oneshot", "narrow") for b in ("32", "4")])
    for r in rows:
        if r["arm"] not in ("dense", "quant-only"):
            assert r["channels"].startswith("32/16")
        assert float(r["act_mem_bits_all"]) > 0 and float(r["perf_per_mbit_all"]) > 0
    ranks = list(csv.DictReader(open(tmp_path / "ranking.csv")))
    assert [r["layer"] for r in ranks] == ["body.3"]  # digits-mlp: the second hidden layer, previous pruned 50 %
    assert -1 <= float(ranks[0]["kendall_tau"]) <= 1 and 0 <= float(ranks[0]["levenshtein"]) <= 1
    assert "paired wins" in out and "Kendall" in out


@pytest.mark.slow
def test_reproduce_psqs_quick(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "reproduce_psqs.py"), "--quick", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    # 32 and 4 bits, each dense then the Ps&Qs points 10 %, …, 50 %
    assert sorted({(r["bits"], float(r["sparsity"])) for r in rows}) == sorted(
        (b, s) for b in ("32", "4") for s in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5))
    dense32 = next(r for r in rows if r["bits"] == "32" and float(r["sparsity"]) == 0)
    assert float(dense32["bops_psqs_reduction"]) == pytest.approx(1.0)
    assert float(dense32["bops_psqs"]) == pytest.approx(
        64 * 64 * (1024 + 64 + 6) + 32 * 64 * (1024 + 64 + 6) + 10 * 32 * (1024 + 64 + 5))
    for r in rows:
        assert 0 < float(r["aiq"]) <= 1 and 0 < float(r["net_efficiency"]) <= 1
        assert math.isclose(float(r["aiq"]), (float(r["accuracy"]) ** 2 * float(r["net_efficiency"])) ** (1 / 3))
    assert (tmp_path / "accuracy_vs_bops.png").stat().st_size > 10_000


def test_missing_fashion_mnist_is_one_line_naming_the_install_command(tmp_path, monkeypatch):
    from toolchain import data
    from toolchain.errors import UserError
    from toolchain.zoo import load_recipe

    monkeypatch.setattr(data, "FASHION_DIR", tmp_path)
    with pytest.raises(UserError) as err:
        data.load_dataset(load_recipe("fashion-mlp"))
    assert "\n" not in str(err.value) and "apt-get install -y dataset-fashion-mnist" in str(err.value)


def test_seed_study_trains_each_dense_net_once_and_orders_whole_groups():
    rs = _script("reproduce_seed")
    study = rs.Study(seeds={"fashion": 1, "digits": 2}, arms=("greedy", "narrow"))
    dense = rs.dense_tasks(study)
    assert [(t.dataset, t.seed, t.arm) for t in dense] == [("digits", 0, "dense"), ("fashion", 0, "dense"),
                                                           ("digits", 1, "dense")]
    state = {"w": object()}
    arms = rs.arm_tasks(dense[0], state)
    # every arm but narrow (trained from scratch) starts from the dense task's trained net, not a new one
    assert [(t.arm, t.dense_state is state) for t in arms] == [("greedy", True), ("narrow", False)]
    assert arms[1].dense_state is None
    # a finished seed's arms run before the next seed's dense net
    queue = sorted(dense[1:] + arms, key=rs.priority)
    assert [(t.dataset, t.arm) for t in queue][:3] == [("digits", "greedy"), ("digits", "narrow"), ("fashion", "dense")]
