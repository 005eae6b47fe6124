"""The search space as Optuna distributions, and a sampled point as a typed configuration and a recipe."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict

from toolchain.sweep.schema import Space, Sweep


class Point(BaseModel):
    """One configuration of the space: what a trial trains, lowers and estimates."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    weight_bits: int
    act_bits: int
    layers: dict[int, dict[str, int]] = {}  # per layer: index -> {weight_bits, act_bits, pe, simd}
    prune: Optional[str] = None  # a `hil train --prune` spec, or "budget:LUT=...": `hil train --budget`
    target_fps: float
    part: str
    clock_ns: float

    def folding_bounds(self) -> dict[int, dict[str, int]]:
        """Recipe layer index -> {"PE": bound, "SIMD": bound} (the sampled per-layer folding bounds)."""
        out: dict[int, dict[str, int]] = {}
        for index, values in self.layers.items():
            for key in ("pe", "simd"):
                if key in values:
                    out.setdefault(index, {})[key.upper()] = values[key]
        return out

    @property
    def budget(self) -> Optional[str]:
        from toolchain.sweep.schema import BUDGET

        return self.prune[len(BUDGET):] if self.prune and self.prune.startswith(BUDGET) else None


def distributions(space: Space) -> dict:
    """Optuna parameter name -> CategoricalDistribution (every dimension is a list of choices, so that
    the grid, random, TPE and NSGA-II samplers all take the same file)."""
    from optuna.distributions import CategoricalDistribution

    return {name: CategoricalDistribution(list(choices)) for name, choices in space.dimensions().items()}


def grid(space: Space) -> dict[str, list]:
    return {name: list(dict.fromkeys(choices)) for name, choices in space.dimensions().items()}


def point_of(params: dict) -> Point:
    """The sampled Optuna parameters as a Point."""
    layers: dict[int, dict[str, int]] = {}
    for name, value in params.items():
        if name.startswith("layer"):
            index, key = name[len("layer"):].split(".")
            layers.setdefault(int(index), {})[key] = int(value)
    prune = params["prune"]
    return Point(weight_bits=params["weight_bits"], act_bits=params["act_bits"], layers=layers,
                 prune=None if prune == "none" else prune, target_fps=params["target_fps"], part=params["part"],
                 clock_ns=params["clock_ns"])


def recipe_of(sweep: Sweep, point: Point):
    """The zoo recipe with the point's bits, pruning, the sweep's epochs and seed: what `hil train` runs."""
    from toolchain.zoo import load_recipe, with_overrides

    recipe = with_overrides(load_recipe(sweep.recipe), weight_bits=point.weight_bits, act_bits=point.act_bits,
                            epochs=sweep.epochs, seed=sweep.seed, prune=point.prune or "")
    if point.prune is None or point.budget is not None:  # a budget is a train option, not a recipe prune
        recipe = recipe.model_copy(update={"prune": None})
    if point.layers:
        layers = list(recipe.architecture.layers)
        for index, values in point.layers.items():
            bits = {k: v for k, v in values.items() if k in ("weight_bits", "act_bits")}
            if bits:
                layers[index] = layers[index].model_copy(update=bits)
        recipe = recipe.model_copy(update={"architecture": recipe.architecture.model_copy(update={"layers": layers})})
    return recipe


def narrowed(recipe):
    """The architecture a channel-pruned training ends with (every hidden layer loses
    pruned_count(S, width) channels, toolchain/compress/pruning.py), without the prune spec: the
    cheap estimate lowers this untrained model instead of training first."""
    from toolchain.compress.pruning import ChannelSpec, parse_prune_spec, pruned_count
    from toolchain.zoo import Conv, Dense

    spec = parse_prune_spec(recipe.prune) if recipe.prune else None
    plain = recipe.model_copy(update={"prune": None})
    if not isinstance(spec, ChannelSpec):
        return plain
    layers = list(recipe.architecture.layers)
    compute = [i for i, l in enumerate(layers) if isinstance(l, (Dense, Conv))]
    for i in compute[:-1]:  # the classifier keeps its classes
        layer = layers[i]
        field = "units" if isinstance(layer, Dense) else "channels"
        width = getattr(layer, field)
        layers[i] = layer.model_copy(update={field: width - pruned_count(spec.sparsity, width)})
    return plain.model_copy(update={"architecture": plain.architecture.model_copy(update={"layers": layers})})
