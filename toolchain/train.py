"""`hil train`: QAT (with optional pruning) of a recipe, the float32 baseline, and the run's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from toolchain.compress.checkpoint import CHECKPOINT, RECIPE_FILE, load_run, save_checkpoint, untrained_model
from toolchain.compress.checkpoint import seed_everything as _seed
from toolchain.errors import UserError
from toolchain.fileio import write_json
from toolchain.zoo import Recipe, load_recipe, with_overrides

METRICS = "metrics.json"
__all__ = ["CHECKPOINT", "RECIPE_FILE", "METRICS", "load_run", "untrained_model", "save_run", "train_recipe"]


def quant_layers(model):
    """(name, module) of every Brevitas layer with a weight quantizer, in network order."""
    return [(name, m) for name, m in model.named_modules() if hasattr(m, "quant_weight")]


def integer_weights(module) -> np.ndarray:
    """The layer's weights on its integer grid (exact: scales are powers of two)."""
    import torch

    with torch.no_grad():
        qw = module.quant_weight()
        return (qw.value / qw.scale).round().numpy()


def weight_stats(model, recipe: Recipe) -> dict:
    from toolchain.compress.model import layer_bits

    bits = [b for b in layer_bits(recipe) if b is not None]
    layers, total_bits, zeros, count = {}, 0, 0, 0
    for (name, module), b in zip(quant_layers(model), bits):
        w = integer_weights(module)
        z = int((w == 0).sum())
        layers[name] = {"weights": int(w.size), "bits": b.weight, "sparsity": z / w.size}
        total_bits += w.size * b.weight
        zeros, count = zeros + z, count + w.size
    return {"weight_bits_total": int(total_bits), "sparsity": zeros / count, "layers": layers}


# units of `hil train --json` / metrics.json (toolchain/schemas/train.schema.json)
UNITS = {"accuracy": "fraction of test samples (top-1)", "float_accuracy": "fraction of test samples (top-1)",
         "mse": "mean squared error per input value", "float_mse": "mean squared error per input value",
         "bops": "bit operations per inference (qonnx inference_cost)", "sparsity": "fraction of weights that are 0",
         "weight_bits_total": "bits", "budget.before": "LUT, FF, DSP, BRAM_18K, URAM (hil estimate)",
         "budget.after": "LUT, FF, DSP, BRAM_18K, URAM (hil estimate)",
         "budget.layers.*.cost_per_channel": "resources per channel kept"}


def save_run(run_dir: Path, recipe: Recipe, model, metrics: dict) -> None:
    """The checkpoint and metrics.json; `metrics` gains schema_version and units (the --json object)."""
    from toolchain.schemas import versioned

    versioned(metrics, UNITS)
    save_checkpoint(run_dir, recipe, model)
    write_json(run_dir / METRICS, metrics)


class EpochAccuracy:
    """fit() callback: test accuracy after each epoch, handed to `report(accuracy, epoch)` (the sweep's
    pruner on the epoch curve, toolchain/sweep/epochs.py; it may raise to stop the training)."""

    def __init__(self, split, bipolar_output: bool, report: Callable[[float, int], None]):
        self.split, self.bip, self.report = split, bipolar_output, report

    def on_step_end(self, model, step: int) -> None:
        pass

    def on_epoch_end(self, model, epoch: int) -> None:
        from toolchain.compress.qat import evaluate

        self.report(evaluate(model, self.split.x_test, self.split.y_test, self.bip), epoch)


def train_float_baseline(recipe: Recipe, split) -> float:
    from toolchain.compress.model import build_model
    from toolchain.compress.qat import evaluate, fit

    _seed(recipe.training.seed)
    model = build_model(recipe, quantized=False)
    bip = recipe.architecture.bipolar_output
    fit(model, split.x_train, split.y_train, recipe.training, bip, description="float32 baseline")
    return evaluate(model, split.x_test, split.y_test, bip)


def train_recipe(recipe_name: str, out: Path, *, epochs: Optional[int] = None, weight_bits: Optional[int] = None,
                 act_bits: Optional[int] = None, prune: Optional[str] = None, seed: Optional[int] = None,
                 float_baseline: bool = True, on_epoch: Optional[Callable[[float, int], None]] = None,
                 budget=None) -> dict:
    """`hil train`. on_epoch(accuracy, epoch) after each QAT epoch of an unpruned recipe (pruning runs
    several phases, whose curves are not one curve: it is not called for them). budget: a
    compress.budget.BudgetPlan (`--budget`): after QAT, the hidden channels a knapsack on the cost
    model's marginal cost per channel keeps, then fine-tuning; checked before any training."""
    from toolchain.compress.model import build_model
    from toolchain.compress.calibrate import CalibrationConfig, calibrate_activations
    from toolchain.compress.qat import evaluate, fit
    from toolchain.data import load_dataset

    recipe = with_overrides(load_recipe(recipe_name), weight_bits=weight_bits, act_bits=act_bits,
                            epochs=epochs, seed=seed, prune=prune)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    pruning = None
    if recipe.prune:
        from toolchain.compress.pruning import parse_prune_spec

        pruning = parse_prune_spec(recipe.prune)  # validated before any training
    from toolchain.zoo import Task

    if budget is not None:
        if pruning is not None:
            raise UserError("--budget chooses the channels itself: give it without --prune (or a recipe prune)")
        if recipe.architecture.task is Task.RECONSTRUCTION:
            raise UserError("--budget is not supported for reconstruction recipes")
        budget.check(recipe)  # a budget no width meets: exit 2 before any training
    split = load_dataset(recipe)

    if recipe.architecture.task is Task.RECONSTRUCTION:  # an autoencoder: MSE, not accuracy
        if pruning is not None:
            raise UserError("pruning is not supported for reconstruction recipes")
        from toolchain.compress.reconstruct import train_reconstruction

        model, metrics = train_reconstruction(recipe, split, float_baseline)
        save_run(out, recipe, model, metrics)
        return metrics
    bip = recipe.architecture.bipolar_output
    _seed(recipe.training.seed)
    model = build_model(recipe)
    calibrate_activations(model, split.x_train, CalibrationConfig(seed=recipe.training.seed))  # statistics-based
    extra: dict = {}
    dense_recipe = recipe  # the unpruned original: float baseline and float BOPs refer to it
    if pruning is None:
        callbacks = [EpochAccuracy(split, bip, on_epoch)] if on_epoch is not None else []
        fit(model, split.x_train, split.y_train, recipe.training, bip, callbacks=callbacks,
            description=f"QAT {recipe.name}")
        if budget is not None:
            from toolchain.compress.budget import prune_to_budget

            model, recipe, extra = prune_to_budget(model, recipe, split, budget)
    else:
        from toolchain.compress.run import run_pruning

        # channel pruning removes channels physically: the result has a narrower recipe of its own
        model, recipe, extra = run_pruning(pruning, model, dense_recipe, split)
    metrics = {"recipe": recipe.name, "weight_bits": recipe.quant.weight_bits, "act_bits": recipe.quant.act_bits,
               "prune": recipe.prune, "seed": recipe.training.seed, "epochs": recipe.training.epochs,
               "accuracy": evaluate(model, split.x_test, split.y_test, bip),
               "synthetic_data": split.synthetic}
    if float_baseline:
        metrics["float_accuracy"] = train_float_baseline(dense_recipe, split)
    from toolchain.compress.footprint import footprint

    metrics.update(footprint(model, recipe, dense_recipe, metrics["accuracy"]))  # bops, macs, memory, float_bops
    from toolchain.compress.aiq import efficiency

    metrics.update(efficiency(model, split.x_test, metrics["accuracy"]).metrics())  # Ps&Qs net efficiency, aIQ
    metrics.update(weight_stats(model, recipe))
    metrics.update(extra)
    save_run(out, recipe, model, metrics)
    return metrics
