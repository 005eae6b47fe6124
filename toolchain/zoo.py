"""Model-zoo recipes: typed, validated YAML (toolchain/recipes/*.yaml)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from toolchain.errors import UserError

ZOO_DIR = Path(__file__).resolve().parent / "recipes"  # package data, so a wheel carries the zoo


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Bits = Annotated[int, Field(ge=1, le=8, description="bit width, 1 (binary) to 8")]


class Dense(Strict):
    type: Literal["dense"] = "dense"
    units: int = Field(gt=0)
    weight_bits: Optional[Bits] = None  # per-layer override of the recipe default
    act_bits: Optional[Bits] = None


class Conv(Strict):
    type: Literal["conv"] = "conv"
    channels: int = Field(gt=0)
    kernel: int = Field(gt=0)
    weight_bits: Optional[Bits] = None
    act_bits: Optional[Bits] = None


class MaxPool(Strict):
    type: Literal["maxpool"] = "maxpool"
    kernel: int = Field(gt=0)


Layer = Union[Dense, Conv, MaxPool]


class Activation(str, Enum):
    RELU = "relu"  # unsigned uniform quantizer after ReLU
    SIGN = "sign"  # bipolar quantizer (binary activations)


class InputKind(str, Enum):
    INT = "int"  # signed uniform quantizer, power-of-two scale
    BIPOLAR = "bipolar"  # the data is already ±1 (binarized features)
    # raw 8-bit pixels 0..255 (FINN's BNN-PYNQ convention): the model computes x/255, 2x-1 and its input
    # quantizer (bipolar if input_bits == 1, else input_bits signed) in its forward; the export annotates
    # the input UINT8, so the lowering turns preprocessing + quantizer into a Thresholding node
    UINT8 = "uint8"


PIXEL_DATASETS = ("mnist5k", "fashion-mnist", "cifar10")  # data sets of 8-bit pixels


class Architecture(Strict):
    input_shape: list[int]  # (features,) or (channels, height, width)
    layers: list[Layer]  # the last layer is the classifier (dense), without activation
    batchnorm: bool = False  # BatchNorm after every hidden layer (FINN's BNN topologies)
    input_kind: InputKind = InputKind.INT
    input_bits: Bits = 8
    activation: Activation = Activation.RELU
    bipolar_output: bool = False  # binary classifier with a ±1 output (cybsec)

    @field_validator("layers")
    @classmethod
    def _last_is_dense(cls, layers: list[Layer]) -> list[Layer]:
        if not layers or not isinstance(layers[-1], Dense):
            raise ValueError("the last layer must be dense (the classifier)")
        return layers


class Quantization(Strict):
    weight_bits: Bits = 4
    act_bits: Bits = 4


class Dataset(Strict):
    # "file": your own data, path to an .npz (x, y) or a CSV with a label column (toolchain.data.read_dataset_file)
    name: Literal["digits", "mnist5k", "fashion-mnist", "jet-hlf", "cybsec-synthetic", "cifar10", "file"]
    path: Optional[str] = None  # user-given file (jet-hlf, file)
    label: Optional[str] = None  # CSV label column of a "file" data set (default: label)
    images: bool = False  # keep the (C, H, W) shape instead of flattening

    @model_validator(mode="after")
    def _file_has_path(self) -> "Dataset":
        if self.name == "file" and not self.path:
            raise ValueError("dataset name file needs a path (an .npz with x and y, or a CSV with a label column)")
        return self


class Training(Strict):
    epochs: int = Field(20, gt=0)
    batch_size: int = Field(64, gt=0)
    lr: float = Field(0.01, gt=0)
    weight_decay: float = 0.0
    seed: int = 0


class Recipe(Strict):
    name: str
    description: str = ""
    dataset: Dataset
    architecture: Architecture
    quant: Quantization = Quantization()
    training: Training = Training()
    prune: Optional[str] = None  # same syntax as `hil train --prune`
    notes: str = ""

    @model_validator(mode="after")
    def _pixels_for_uint8(self) -> "Recipe":
        if self.architecture.input_kind is InputKind.UINT8 and self.dataset.name not in PIXEL_DATASETS:
            raise ValueError(f"architecture.input_kind uint8 needs a data set of 8-bit pixels "
                             f"({', '.join(PIXEL_DATASETS)}), not {self.dataset.name}")
        return self


def recipe_names() -> list[str]:
    return sorted(p.stem for p in ZOO_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str) -> Recipe:
    """A zoo name (digits-mlp) or a path to a recipe YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = ZOO_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise UserError(f"unknown recipe '{name_or_path}'; known: {', '.join(recipe_names())}")
    elif not path.exists():
        raise UserError(f"recipe file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
        return Recipe.model_validate(data)
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{path}: {where + ': ' if where else ''}{first['msg']}") from None


def with_overrides(recipe: Recipe, *, weight_bits: Optional[int] = None, act_bits: Optional[int] = None,
                   epochs: Optional[int] = None, seed: Optional[int] = None, prune: Optional[str] = None) -> Recipe:
    """The recipe with command-line overrides applied and validated."""
    for bits in (weight_bits, act_bits):
        if bits is not None and not 1 <= bits <= 8:
            raise UserError(f"bit width {bits} is outside 1..8")
    if epochs is not None and epochs < 1:
        raise UserError(f"epochs must be >= 1, got {epochs}")
    quant = recipe.quant.model_copy(update={k: v for k, v in
                                            {"weight_bits": weight_bits, "act_bits": act_bits}.items() if v is not None})
    training = recipe.training.model_copy(update={k: v for k, v in
                                                  {"epochs": epochs, "seed": seed}.items() if v is not None})
    return recipe.model_copy(update={"quant": quant, "training": training,
                                     "prune": prune if prune is not None else recipe.prune})
