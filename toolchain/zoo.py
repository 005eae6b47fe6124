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
    padding: int = Field(0, ge=0)  # zeros each side (an FMPadding in hardware)
    weight_bits: Optional[Bits] = None
    act_bits: Optional[Bits] = None


class MaxPool(Strict):
    type: Literal["maxpool"] = "maxpool"
    kernel: int = Field(gt=0)


class Residual(Strict):
    """A residual block (He et al. 2016, "basic block"): conv k×k (same padding) → act → conv k×k, plus
    the shortcut -- the block's input itself when the channel count is unchanged, else a 1×1
    projection conv -- both quantized by ONE shared signed quantizer so the join adds integers on
    the same scale (toolchain/passes/residual.py), then the activation. Built by compress/blocks.py."""
    type: Literal["residual"] = "residual"
    channels: int = Field(gt=0)
    kernel: int = Field(3, gt=0)
    weight_bits: Optional[Bits] = None
    act_bits: Optional[Bits] = None

    @field_validator("kernel")
    @classmethod
    def _odd(cls, k: int) -> int:
        if k % 2 == 0:
            raise ValueError("a residual block's kernel must be odd (same padding keeps the shape)")
        return k


class DepthwiseSeparable(Strict):
    """A depthwise-separable block (Howard et al. 2017, MobileNets, Fig. 3): depthwise conv k×k (one
    filter per channel, `padding` zeros each side) → act → pointwise 1×1 conv to `channels` → act.
    Built by compress/blocks.py; lowered to SWG (depthwise) + VVAU and an MVAU."""
    type: Literal["dwsep"] = "dwsep"
    channels: int = Field(gt=0)
    kernel: int = Field(3, gt=0)
    padding: int = Field(0, ge=0)
    weight_bits: Optional[Bits] = None
    act_bits: Optional[Bits] = None


class GlobalAvgPool(Strict):
    """Global average pooling (C, H, W) -> (C,) before the classifier, then an unsigned activation
    quantizer; H·W must be a power of two for the bit-exact lowering (GlobalAccPool + a 2^-k scale
    folded into the quantizer's thresholds, toolchain/passes/pooling.py)."""
    type: Literal["globalavgpool"] = "globalavgpool"
    act_bits: Optional[Bits] = None  # the unsigned quantizer after the average (the classifier's input)


class Conv1d(Strict):
    """A 1-D convolution over the last axis of a (C, 1, T) input (a 1-D signal as a 1×T image, FINN's
    layout for ConvolutionInputGenerator1D): kernel 1×k, stride 1, no padding."""
    type: Literal["conv1d"] = "conv1d"
    channels: int = Field(gt=0)
    kernel: int = Field(gt=0)
    weight_bits: Optional[Bits] = None
    act_bits: Optional[Bits] = None


class Upsample(Strict):
    """Nearest-neighbour upsampling of H and W by `scale` (ONNX Resize; an Upsample node in hardware)."""
    type: Literal["upsample"] = "upsample"
    scale: int = Field(2, ge=2, le=8)


Layer = Union[Dense, Conv, MaxPool, Residual, DepthwiseSeparable, GlobalAvgPool, Conv1d, Upsample]


class Task(str, Enum):
    CLASSIFICATION = "classification"  # the last layer is a dense classifier; metric: accuracy
    RECONSTRUCTION = "reconstruction"  # an autoencoder: the last layer is a conv giving the input back; metric: MSE


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
    task: Task = Task.CLASSIFICATION

    @model_validator(mode="after")
    def _last_layer(self) -> "Architecture":
        last = self.layers[-1] if self.layers else None
        if self.task is Task.RECONSTRUCTION:
            if not isinstance(last, Conv):
                raise ValueError("a reconstruction network's last layer must be a conv (the output image)")
        elif not isinstance(last, Dense):
            raise ValueError("the last layer must be dense (the classifier)")
        return self


class Quantization(Strict):
    weight_bits: Bits = 4
    act_bits: Bits = 4


class Dataset(Strict):
    # "file": your own data, path to an .npz (x, y) or a CSV with a label column (toolchain.data.read_dataset_file)
    name: Literal["digits", "mnist5k", "fashion-mnist", "jet-hlf", "cybsec-synthetic", "cifar10", "file",
                  "keywords-synthetic"]
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
