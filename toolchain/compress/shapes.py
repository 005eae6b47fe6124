"""Shapes of a recipe's layers, computed from the recipe alone (the rules of compress/model.py::build_model)."""

from __future__ import annotations

import math

from toolchain.compress.blocks import block_output_shape, is_block
from toolchain.zoo import Conv, Dense, MaxPool, Recipe


def input_shapes(recipe: Recipe) -> list[tuple[int, ...]]:
    """The input shape of every layer of the recipe, per sample: (F,) or (C, H, W)."""
    shape = tuple(recipe.architecture.input_shape)
    shapes = []
    for layer in recipe.architecture.layers:
        shapes.append(shape)
        if isinstance(layer, MaxPool):
            shape = (shape[0], shape[1] // layer.kernel, shape[2] // layer.kernel)
        elif is_block(layer):
            shape = block_output_shape(layer, shape)
        elif isinstance(layer, Conv):
            grow = 2 * layer.padding - layer.kernel + 1
            shape = (layer.channels, shape[1] + grow, shape[2] + grow)
        else:
            shape = (layer.units,)
    return shapes


def weight_count(recipe: Recipe, index: int) -> int:
    """Weights of layer `index` (dense or conv)."""
    layer, shape = recipe.architecture.layers[index], input_shapes(recipe)[index]
    if isinstance(layer, Conv):
        return shape[0] * layer.channels * layer.kernel ** 2
    if isinstance(layer, Dense):
        return math.prod(shape) * layer.units
    raise ValueError(f"layer {index} ({layer.type}) has no weights")


def width(layer) -> int:
    """Output channels (conv) or units (dense)."""
    return layer.units if isinstance(layer, Dense) else layer.channels
