"""The sweep file: pydantic validation whose errors name the field, and the space it describes."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.sweep.conftest import PRUNED_ONLY, write_sweep
from toolchain.errors import UserError
from toolchain.sweep.schema import Objective, parse_sweep
from toolchain.sweep.space import narrowed, point_of, recipe_of


@pytest.mark.parametrize("patch, field", [
    ({"trials": 0}, "trials"),
    ({"space": {"weight_bits": [9]}}, "space.weight_bits.0"),
    ({"space": {"part": ["NoSuchBoard"]}}, "space.part"),
    ({"space": {"prune": ["sideways:0.5"]}}, "space.prune"),
    ({"space": {"prune": ["budget:GATES=5"]}}, "space.prune"),
    ({"space": {"prune": ["budget:LUT=-1"]}}, "space.prune"),
    ({"search": {"pruner": {"kind": "hyperband"}}}, "search.pruner.kind"),
    ({"search": {"pruner": {"percentile": 100}}}, "search.pruner.percentile"),
    ({"cost": "synth"}, "cost"),
    ({"space": {"layers": {"7": {"weight_bits": [2]}}}}, "space.layers"),
    ({"objectives": ["accuracy", "speed"]}, "objectives.1"),
    ({"objectives": ["lut", "lut"]}, "objectives"),
    ({"constraints": {"accuracy_min": 2}}, "constraints.accuracy_min"),
    ({"search": {"sampler": "annealing"}}, "search.sampler"),
    ({"budget": 3}, "budget"),
])
def test_an_error_names_the_field(patch, field):
    with pytest.raises(UserError) as err:
        parse_sweep({**PRUNED_ONLY, **patch}, "s.yaml")
    assert str(err.value).startswith(f"s.yaml: {field}: ")


def test_bad_file_is_one_line_exit_2_and_writes_nothing(tmp_path):
    path = write_sweep(tmp_path, {**PRUNED_ONLY, "trials": -1})
    out = tmp_path / "run"
    proc = run_cli("sweep", str(path), "-o", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "trials" in proc.stderr
    assert not out.exists()


def test_a_point_becomes_the_recipe_trained():
    sweep = parse_sweep({**PRUNED_ONLY, "space": {**PRUNED_ONLY["space"], "layers": {"1": {"act_bits": [3]}},
                                                 "prune": ["channels:0.5"]}})
    assert sweep.objectives == [Objective.ACCURACY, Objective.LUT]
    point = point_of({"weight_bits": 2, "act_bits": 4, "layer1.act_bits": 3, "prune": "channels:0.5",
                      "target_fps": 1e5, "part": "Pynq-Z2", "clock_ns": 10.0})
    recipe = recipe_of(sweep, point)
    assert (recipe.quant.weight_bits, recipe.quant.act_bits, recipe.training.epochs) == (2, 4, 1)
    assert recipe.architecture.layers[1].act_bits == 3 and recipe.architecture.layers[0].act_bits is None
    assert recipe.prune == "channels:0.5"
    # the cheap estimate's architecture: digits-mlp 64-32-10 with half of each hidden layer removed
    narrow = narrowed(recipe)
    assert [l.units for l in narrow.architecture.layers] == [32, 16, 10] and narrow.prune is None


def test_grid_size_counts_distinct_choices():
    sweep = parse_sweep(PRUNED_ONLY)
    assert sweep.space.grid_size() == 4 * 2 * 1 * 3 * 1 * 1


def test_a_budget_choice_is_a_train_option_not_a_recipe_prune():
    sweep = parse_sweep({**PRUNED_ONLY, "space": {**PRUNED_ONLY["space"], "prune": ["none", "budget:LUT=1300"]}})
    point = point_of({"weight_bits": 2, "act_bits": 4, "prune": "budget:LUT=1300", "target_fps": 1e5,
                      "part": "Pynq-Z2", "clock_ns": 10.0})
    assert point.budget == "LUT=1300" and recipe_of(sweep, point).prune is None
    assert point_of({**point.model_dump(exclude={"layers"}), "prune": "channels:0.5"}).budget is None


def test_the_shipped_example_sweeps_load():
    """Every examples/sweep*.yaml the README points to is a valid sweep file, and its space is what it
    says it is: the README's 40-trial example is a search over more points than it has trials."""
    from pathlib import Path

    from toolchain.sweep.schema import load_sweep

    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("sweep*.yaml"))
    assert examples, "no example sweep file"
    for path in examples:
        sweep = load_sweep(path)
        assert sweep.trials >= 1
    digits = load_sweep(examples[0].parent / "sweep-digits.yaml")
    assert digits.trials == 40 and digits.space.grid_size() > digits.trials
