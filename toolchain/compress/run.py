"""Training with pruning: dispatch a parsed --prune spec (toolchain/compress/pruning.py, the specs
alone) to quantization-aware magnitude pruning (magnitude.py) or layerwise channel pruning
(channel_pruning.py). Kept apart from the specs so that the pruning methods can import the specs
without an import cycle."""

from __future__ import annotations

from toolchain.compress.pruning import PruneSpec, UnstructuredSpec, check_spec


def run_pruning(spec: PruneSpec, model, recipe, split):
    """Train `model` (built and calibrated for `recipe`) with pruning → (model, recipe of the model, metrics).

    A channel-pruned model is narrower: the returned recipe carries its layer widths, so that
    build_model(recipe) + load_state_dict reproduces it.
    """
    check_spec(spec, recipe)
    if isinstance(spec, UnstructuredSpec):
        from toolchain.compress.magnitude import prune_unstructured

        model, extra = prune_unstructured(model, recipe, split, spec)
        return model, recipe, extra
    from toolchain.compress.channel_pruning import prune_channels, train_float

    float_model = train_float(recipe, split)
    return prune_channels(float_model, recipe, split, spec)
