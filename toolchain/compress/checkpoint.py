"""A trained model as `hil train` leaves it, and a recipe's quantized random init: what `hil export`
loads. Below both train and export, so that neither imports the other.

A run folder holds plain data only, nothing that runs code when read:
  * run_dir/recipe.json: the recipe (a channel-pruned run's narrower one), JSON;
  * run_dir/checkpoint.pt: {"state_dict": tensors, "recipe_sha256": hash of recipe.json's text},
    read with torch.load(weights_only=True), which unpickles tensors and plain containers only.
The hash ties the two files together: a save interrupted between them (or a recipe.json edited by
hand) is refused instead of loading weights into another network. A checkpoint.pt from before this
format (the recipe pickled inside it) is refused without being unpickled.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from toolchain.errors import UserError
from toolchain.fileio import atomic_path, write_text
from toolchain.zoo import Recipe, load_recipe

CHECKPOINT = "checkpoint.pt"
RECIPE_FILE = "recipe.json"


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


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _read_recipe(path: Path) -> tuple[Recipe, str]:
    from pydantic import ValidationError

    try:
        text = path.read_text()
        recipe = Recipe.model_validate(json.loads(text))
    except (OSError, ValueError) as err:  # pydantic's ValidationError is a ValueError
        if isinstance(err, ValidationError):
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UserError(f"{path}: not a valid recipe ({where + ': ' if where else ''}{first['msg']})") from None
        raise UserError(f"{path}: not a valid recipe JSON file ({type(err).__name__})") from None
    return recipe, text


def load_run(run_dir: Path):
    """(recipe, model) of a `hil train` run folder, in eval mode. Reads tensors only (weights_only);
    UserError for anything that is not a checkpoint of this format."""
    import pickle

    import torch

    from toolchain.compress.model import build_model

    run_dir = Path(run_dir)
    path, recipe_path = run_dir / CHECKPOINT, run_dir / RECIPE_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} holds no {CHECKPOINT}: not a `hil train` run folder")
    if not recipe_path.is_file():
        raise UserError(f"{run_dir} holds a {CHECKPOINT} without {RECIPE_FILE} (the format before hil kept the "
                        "recipe beside the tensors); it is not read, as unpickling it could run code: train again")
    recipe, text = _read_recipe(recipe_path)
    try:
        ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, AttributeError,
            TypeError, ImportError, IndexError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path} is not a tensors-only checkpoint ({first[:160]})") from None
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} holds no state_dict of tensors")
    if ckpt.get("recipe_sha256") != _sha256(text):
        raise UserError(f"{path} and {RECIPE_FILE} do not belong together (an interrupted save or an edited "
                        "recipe): train again")
    model = build_model(recipe)  # a channel-pruned run stores its narrower recipe
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise UserError(f"{path}: the weights do not fit the recipe's network "
                        f"({str(err).splitlines()[0][:200]})") from None
    model.eval()
    return recipe, model


def save_checkpoint(run_dir: Path, recipe: Recipe, model) -> None:
    """recipe.json, then checkpoint.pt naming its hash: a kill between the two leaves a pair that
    load_run refuses, never a checkpoint read with the wrong recipe."""
    import torch

    text = json.dumps(recipe.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    write_text(Path(run_dir) / RECIPE_FILE, text)
    with atomic_path(Path(run_dir) / CHECKPOINT) as tmp:
        torch.save({"state_dict": model.state_dict(), "recipe_sha256": _sha256(text)}, tmp)
