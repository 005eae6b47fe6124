"""A trained model as `hil train` leaves it (run_dir/checkpoint.pt), and a recipe's quantized random
init: what `hil export` loads. Below both train and export, so that neither imports the other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolchain.errors import UserError
from toolchain.fileio import atomic_path
from toolchain.zoo import Recipe, load_recipe

CHECKPOINT = "checkpoint.pt"


def seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


def untrained_model(source: str, seed: int = 0):
    """A recipe's quantized random init, activation ranges calibrated on its data (or random inputs)."""
    from toolchain.compress.calibrate import CalibrationConfig, calibrate_activations
    from toolchain.compress.model import build_model
    from toolchain.data import verification_inputs

    recipe = load_recipe(source)
    seed_everything(seed)
    model = build_model(recipe)
    calibrate_activations(model, verification_inputs(recipe, 512, seed), CalibrationConfig(seed=seed))
    return recipe, model


def load_run(run_dir: Path):
    """(recipe, model) of a `hil train` run folder, in eval mode."""
    import torch

    from toolchain.compress.model import build_model

    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise UserError(f"{run_dir} holds no {CHECKPOINT}: not a `hil train` run folder")
    ckpt = torch.load(path, weights_only=False)
    recipe = Recipe.model_validate(ckpt["recipe"])
    model = build_model(recipe)  # a channel-pruned run stores its narrower recipe
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return recipe, model


def save_checkpoint(run_dir: Path, recipe: Recipe, model) -> None:
    import torch

    with atomic_path(Path(run_dir) / CHECKPOINT) as tmp:
        torch.save({"recipe": recipe.model_dump(mode="json"), "state_dict": model.state_dict()}, tmp)
