"""Accuracy of the calibrated cost model against published synthesis reports (docs/hls4ml.md §4).

The points are the ones scripts/bench_estimates.py prints: hls4ml-tutorial@c6b63d3 (github
fastmachinelearning/hls4ml-tutorial), part1_getting_started.ipynb cells 26, 28 (V1: jet tagger Dense
16-64-32-32-5, io_parallel, Latency, RF 1, fixed<16,6>, Vitis HLS 2024.1, xcu250-figd2104-2L-e, 5 ns) and
part2_advanced_config.ipynb cells 25, 27 (V2: the same at RF 2); and hls4ml's CI baseline
test/pytest/baselines/Vitis/2024.1/test_keras_api_test_dense_io_parallel.json (Dense(1->2), DSP 2).

Each Dense layer is costed through the public entry point only, `calibrated_resources(model, node, device)`,
as the MVAU that computes it: MW = n_in, MH = n_out, SIMD = MW, PE = MH / RF (RF 1: every weight is a
constant multiplier, as in hls4ml's Latency Dense), 16-bit integer inputs and weights (fixed<16,6> on
its 2^-10 grid), no activation, on the U250 at its 5 ns clock. The trained weights are not published;
they are modelled as in scripts/bench_estimates.py: N(0, 1/fan_in) (the lecun_uniform init's standard
deviation) truncated to fixed<16,6> (k = floor(w·2^10)), and each estimate is the mean over the 5 seeds
the benchmark uses.

Bounds: each is the error the model gives today (measured with this file's code, commented next to it)
plus a small margin (3 points, 5 on FF), so that the test fails when a change makes the model less
accurate on a published point. FF is the model's weakest metric: it costs FINN-style pipeline registers,
which hls4ml's Latency Dense mostly does without (the V1 FF of the output layer is 306).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hw.cost.calibrated import calibrated_resources
from hw.devices import get_device
from hw.ops.graph import NodeSpec, linear_model

U250 = get_device("U250")  # xcu250-figd2104-2L-e, DSP48E2, 5 ns: the part and clock of the reports
SEEDS = range(5)
JET = [("fc1", 16, 64), ("fc2", 64, 32), ("fc3", 32, 32), ("output", 32, 5)]

# V1 per-layer targets (part1 cell 28) -> (target, |relative error| bound); measured error in the comment
V1 = {
    ("fc1", "DSP"): (461, 0.09),  # 435.8: -5.5 %
    ("fc2", "DSP"): (583, 0.07),  # 561.8: -3.6 %
    ("fc3", "DSP"): (347, 0.08),  # 362.2: +4.4 %
    ("output", "DSP"): (106, 0.54),  # 52.6: -50.4 % (the 160-multiplier layer: half its products in LUTs)
    ("fc1", "LUT"): (26175, 0.13),  # 28,665: +9.5 %
    ("fc2", "LUT"): (44224, 0.44),  # 62,215: +40.7 %
    ("fc3", "LUT"): (21554, 0.44),  # 30,240: +40.3 %
    ("output", "LUT"): (4182, 0.24),  # 5,046: +20.7 %
    ("fc1", "FF"): (993, 3.75),  # 4,659: +369 %
    ("fc2", "FF"): (2891, 0.49),  # 4,147: +43.4 %
    ("fc3", "FF"): (1354, 1.36),  # 3,123: +131 %
    ("output", "FF"): (306, 3.61),  # 1,395: +356 %
}
# sums over the four Dense layers (the per-layer targets added up) -> (target, bound)
V1_SUM = {"DSP": (1497, 0.09),  # 1,412.4: -5.65 %
          "LUT": (96135, 0.35),  # 126,167: +31.2 %
          "FF": (5544, 1.46)}  # 13,324: +140 %
# V2, RF 2 (part2 cell 27): fc1 461, fc2 583, fc3 347 DSP; the 5-output layer has no PE for RF 2
V2_DSP_SUM = (461 + 583 + 347, 0.21)  # 1,150.6: -17.3 %


def jet_weights(seed: int) -> list[np.ndarray]:
    """scripts/bench_estimates.py jet_weights: N(0, 1/fan_in) on the fixed<16,6> grid, truncated."""
    rng = np.random.default_rng(seed)
    return [np.clip(np.floor(rng.normal(0, math.sqrt(1 / n_in), (n_in, n_out)) * 2**10), -2**15, 2**15 - 1)
            for _, n_in, n_out in JET]


def dense_cost(w: np.ndarray, rf: int):
    n_in, n_out = w.shape
    model = linear_model([NodeSpec("MVAU", dict(MW=n_in, MH=n_out, PE=n_out // rf, SIMD=n_in, inputDataType="INT16",
                                                weightDataType="INT16", outputDataType="INT32", accDataType="INT32",
                                                noActivation=1), [w])])
    return calibrated_resources(model, model.graph.node[0], U250)


@pytest.fixture(scope="module")
def rf1() -> dict[tuple[str, str], float]:
    """(layer, metric) -> mean estimate over the seeds at RF 1."""
    costs = [[dense_cost(w, 1) for w in jet_weights(seed)] for seed in SEEDS]
    return {(name, metric): float(np.mean([per_seed[i].as_dict()[metric] for per_seed in costs]))
            for i, (name, _, _) in enumerate(JET) for metric in ("DSP", "LUT", "FF", "BRAM_18K")}


def rel_err(estimate: float, target: float) -> float:
    return (estimate - target) / target


@pytest.mark.parametrize("layer,metric", list(V1), ids=[f"{layer}-{metric}" for layer, metric in V1])
def test_v1_per_layer(rf1, layer, metric):
    target, bound = V1[(layer, metric)]
    err = rel_err(rf1[(layer, metric)], target)
    assert abs(err) <= bound, f"{layer} {metric}: estimate {rf1[(layer, metric)]:.1f}, target {target}, {err:+.1%}"


@pytest.mark.parametrize("metric", list(V1_SUM))
def test_v1_sum_of_dense_layers(rf1, metric):
    target, bound = V1_SUM[metric]
    assert target == sum(V1[(name, metric)][0] for name, _, _ in JET)
    err = rel_err(sum(rf1[(name, metric)] for name, _, _ in JET), target)
    assert abs(err) <= bound, f"{metric}: {err:+.1%}"


def test_v1_dense_layers_use_no_bram(rf1):
    """The reports give BRAM_18K 0 for every Dense layer (the 8 BRAM are the softmax tables): at full
    unroll the weights are constants, not memory."""
    assert [rf1[(name, "BRAM_18K")] for name, _, _ in JET] == [0, 0, 0, 0]


def test_v2_rf2_dsp():
    target, bound = V2_DSP_SUM
    estimate = np.mean([sum(dense_cost(w, 2).DSP for w in jet_weights(seed)[:3]) for seed in SEEDS])
    err = rel_err(estimate, target)
    assert abs(err) <= bound, f"{estimate:.1f} vs {target}: {err:+.1%}"


def test_ci_dense_1_to_2_dsp():
    """hls4ml CI: Dense(1->2), RandomUniform(1, 10) kernel, 16-bit: 2 DSP (both products need one)."""
    for seed in SEEDS:
        w = np.floor(np.random.default_rng(seed).uniform(1, 10, (1, 2)) * 2**10)
        assert dense_cost(w, 1).DSP == 2
