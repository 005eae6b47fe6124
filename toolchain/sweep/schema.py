"""The sweep file (SWEEP.yaml), validated by pydantic: an error names the field that is wrong.

    recipe: digits-mlp          # zoo name or recipe YAML
    trials: 40
    seed: 0
    epochs: 2                   # training epochs per trial (the recipe's are for a full run)
    space:
      weight_bits: [2, 3, 4, 8] # global choices; per-layer overrides under `layers`
      act_bits: [2, 3, 4]
      layers: {"1": {weight_bits: [2, 4], pe: [1, 4, 16], simd: [8, 32]}}  # per-layer bits and PE/SIMD bounds
      prune: [none, "unstructured:0.5,step=0.5,epochs=1", "channels:0.25,epochs=1,qepochs=1", "budget:LUT=1200"]
                                # budget:R=LIMIT,...: `hil train --budget` on the point's part and folding
      target_fps: [1.0e5, 1.0e6]   # folding: FINN SetFolding for this frame rate
      part: [Pynq-Z2]
      clock_ns: [10.0]
    objectives: [accuracy, lut, latency]     # accuracy is maximised, the others minimised
    constraints: {fits: true, latency_ns_max: 20000, accuracy_min: 0.8}
    search: {sampler: nsga2, batch: 8, pruner: {kind: median, startup_trials: 4, warmup_epochs: 1}}
    cost: finn                  # the estimates' resource model: finn or calibrated
    target: tcp://pynq:7800     # optional: confirm each trained trial there (hil run; emulator | csim |
                                # tcp://HOST:PORT, token from HIL_TOKEN in the workers) on verify_samples inputs
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from toolchain.errors import UserError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Bits = Annotated[int, Field(ge=1, le=8)]
BUDGET = "budget:"  # a prune choice "budget:LUT=1200,BRAM_18K=100": resource-aware channel pruning
Choices = Annotated[list, Field(min_length=1)]


class Objective(str, Enum):
    ACCURACY = "accuracy"  # top-1 test accuracy of the trained, quantized model
    LUT = "lut"  # estimated LUTs (FINN cost model) of the trained model's dataflow graph
    LATENCY = "latency"  # estimated latency in ns (critical path × clock)
    ENERGY = "energy"  # estimated energy per inference, pJ
    BOPS = "bops"  # bit operations (qonnx inference_cost, zero weights discounted)

    @property
    def maximise(self) -> bool:
        return self is Objective.ACCURACY


class Cost(str, Enum):
    """The resource model of every estimate in the sweep (`hil estimate --cost`)."""
    FINN = "finn"  # FINN's res_estimation formulas (a fixed ~300 LUT per MVAU, weight-blind)
    CALIBRATED = "calibrated"  # ours, weight-aware (hw/cost/calibrated.py): zero and power-of-two weights cost less


class Sampler(str, Enum):
    NSGA2 = "nsga2"
    TPE = "tpe"
    RANDOM = "random"
    GRID = "grid"


Fold = Annotated[int, Field(ge=1, le=4096)]


class LayerSpace(Strict):
    weight_bits: Optional[Annotated[list[Bits], Field(min_length=1)]] = None
    act_bits: Optional[Annotated[list[Bits], Field(min_length=1)]] = None
    # folding bounds of the layer's MVAU: the largest legal PE (SIMD) <= the sampled bound replaces
    # what SetFolding chose for the target fps (costing.bounded_folding)
    pe: Optional[Annotated[list[Fold], Field(min_length=1)]] = None
    simd: Optional[Annotated[list[Fold], Field(min_length=1)]] = None


class Space(Strict):
    weight_bits: Annotated[list[Bits], Field(min_length=1)] = [4]
    act_bits: Annotated[list[Bits], Field(min_length=1)] = [4]
    layers: dict[int, LayerSpace] = {}  # per-layer overrides, by index in the recipe's layer list
    prune: Annotated[list[str], Field(min_length=1)] = ["none"]  # `hil train --prune` specs, or none
    target_fps: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = [1e5]
    part: Annotated[list[str], Field(min_length=1)] = ["Pynq-Z2"]
    clock_ns: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = [10.0]

    @field_validator("prune")
    @classmethod
    def _prune_specs(cls, specs: list[str]) -> list[str]:
        from toolchain.compress.pruning import parse_prune_spec

        from toolchain.compress.budget import parse_budget

        for spec in specs:
            try:
                if spec.startswith(BUDGET):
                    parse_budget(spec[len(BUDGET):])
                elif spec != "none":
                    parse_prune_spec(spec)
            except UserError as err:
                raise ValueError(str(err)) from None
        return specs

    @field_validator("part")
    @classmethod
    def _known_parts(cls, parts: list[str]) -> list[str]:
        from hw.devices import UnknownDeviceError, get_device

        for part in parts:
            try:
                get_device(part)
            except UnknownDeviceError as err:
                raise ValueError(str(err)) from None
        return parts

    def dimensions(self) -> dict[str, list]:
        """Every searched dimension, name -> its choices (fixed order: the Optuna parameter names)."""
        dims: dict[str, list] = {"weight_bits": self.weight_bits, "act_bits": self.act_bits}
        for index, layer in sorted(self.layers.items()):
            for key in ("weight_bits", "act_bits", "pe", "simd"):
                if getattr(layer, key) is not None:
                    dims[f"layer{index}.{key}"] = getattr(layer, key)
        dims.update(prune=self.prune, target_fps=self.target_fps, part=self.part, clock_ns=self.clock_ns)
        return dims

    def grid_size(self) -> int:
        return math.prod(len(set(v)) for v in self.dimensions().values())


class Constraints(Strict):
    fits: bool = True  # the design must fit the part (every resource ≤ 100 %)
    latency_ns_max: Optional[float] = Field(None, gt=0)
    accuracy_min: Optional[float] = Field(None, ge=0, le=1)


class PrunerKind(str, Enum):
    NONE = "none"
    MEDIAN = "median"  # optuna.pruners.MedianPruner
    PERCENTILE = "percentile"  # optuna.pruners.PercentilePruner(percentile): keeps the top `percentile` %


class EpochPruner(Strict):
    """The Optuna pruner on the epoch curve (test accuracy after each QAT epoch): a trained point whose
    curve falls below the earlier trials' stops early (status pruned_early, Optuna state PRUNED)."""
    kind: PrunerKind = PrunerKind.MEDIAN
    startup_trials: int = Field(4, ge=0)  # no pruning until this many trials have trained to the end
    warmup_epochs: int = Field(1, ge=0)  # no pruning before this epoch (0-based)
    percentile: float = Field(50.0, gt=0, lt=100)  # kind percentile: the share of trials kept, in %


class Search(Strict):
    sampler: Sampler = Sampler.NSGA2
    # trials asked at once, then run in parallel and told; the NSGA-II population. A fixed batch
    # (not the worker count) is what makes the trials independent of --workers and the executor.
    batch: int = Field(8, ge=2)
    pruner: EpochPruner = EpochPruner()


class Sweep(Strict):
    recipe: str = "digits-mlp"
    trials: int = Field(gt=0)
    seed: int = 0
    epochs: int = Field(2, gt=0, le=100)
    verify_samples: int = Field(200, gt=0)  # export and lowering are checked bit-exact on these
    baseline: bool = True  # also train the float model and estimate the 8-bit dense design (RUN/baseline.json)
    space: Space = Space()
    objectives: Annotated[list[Objective], Field(min_length=1)] = [Objective.ACCURACY, Objective.LUT]
    constraints: Constraints = Constraints()
    search: Search = Search()
    cost: Cost = Cost.FINN
    target: Optional[str] = None  # confirm every trained trial on this target (toolchain.targets, `hil run`)

    @field_validator("target")
    @classmethod
    def _target(cls, target: Optional[str]) -> Optional[str]:
        if target is not None and target not in ("emulator", "csim"):
            from toolchain.targets.remote import parse_address

            try:
                parse_address(target)
            except UserError as err:
                raise ValueError(f"must be emulator, csim or tcp://HOST:PORT ({err})") from None
        return target

    @field_validator("objectives")
    @classmethod
    def _unique(cls, objectives: list[Objective]) -> list[Objective]:
        if len(set(objectives)) != len(objectives):
            raise ValueError("an objective is listed twice")
        return objectives

    @model_validator(mode="after")
    def _recipe_and_layers(self) -> "Sweep":
        from toolchain.zoo import MaxPool, load_recipe

        recipe = load_recipe(self.recipe)  # UserError names the recipe
        layers = recipe.architecture.layers
        for index in self.space.layers:
            if not 0 <= index < len(layers) or isinstance(layers[index], MaxPool):
                raise ValueError(f"space.layers: {index} is not a dense or conv layer of {recipe.name} "
                                 f"(layers 0..{len(layers) - 1})")
        return self


def load_sweep(path: str | Path) -> Sweep:
    """The validated sweep file; UserError naming the file and the field otherwise."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"sweep file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    return parse_sweep(data, str(path))


def parse_sweep(data, where: str = "sweep") -> Sweep:
    if not isinstance(data, dict):
        raise UserError(f"{where}: a sweep file is a mapping (recipe, trials, space, objectives, ...)")
    try:
        return Sweep.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        # a validator's ValueError reads "Value error, ..."; the whole-file check names its field itself
        message = first["msg"].removeprefix("Value error, ")
        raise UserError(f"{where}: {field + ': ' if field else ''}{message}") from None
