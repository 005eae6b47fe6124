"""Compression metrics of a trained model, from one QONNX export (qonnx `inference_cost`).

- `bops`, `macs`: qonnx inference_cost with discount_sparsity=True (zero weights cost nothing);
- `weight_mem_bits`: the non-zero weights × their bits (inference_cost `total_mem_w_bits`, sparsity discounted);
- `act_mem_bits`: every quantized activation tensor (input and hidden) × its bits, per sample; channel pruning
  shrinks it, dynamic zeros (ReLU) are not discounted;
- `float_bops` = 32·32·`dense_macs`, with dense_macs the MAC count of the dense, unpruned model of the
  original recipe (inference_cost with discount_sparsity=False): the float 32-bit reference;
- `perf_per_mbit`: the seed paper's performance per memory footprint, accuracy (%) ÷ Mbit of
  (weight_mem_bits + act_mem_bits) (calc_flops/calculator.ipynb::get_mem, docs/compression.md §1.1);
- `bops_qonnx` (= `bops`) and `bops_psqs`, Ps&Qs's definition with a 32-bit first-layer input, with their
  float references `float_bops` and `float_bops_psqs` and reductions (costs.py);
- the two footprints, named: `act_mem_bits_quant` (= `act_mem_bits`, the quantized activation tensors) and
  `act_mem_bits_all` = `feature_map_elems` × the activation bits, every layer output as torchinfo's total
  output counts it (the paper's N_f); `perf_per_mbit_all` uses the latter.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

FLOAT_BITS = 32
FLOAT_BOPS_DEF = "32*32*dense_macs: dense_macs = qonnx inference_cost MACs of the dense unpruned model"


def _costs(model: nn.Module, recipe, dense_too: bool) -> tuple[dict, dict | None]:
    from qonnx.util.inference_cost import inference_cost

    from toolchain.compress.brevitas_export import quiet, to_qonnx

    with tempfile.TemporaryDirectory() as tmp:
        qmodel = to_qonnx(model, tuple(recipe.architecture.input_shape), Path(tmp) / "model.onnx")
        with quiet():
            sparse = inference_cost(qmodel, discount_sparsity=True)
            dense = inference_cost(qmodel, discount_sparsity=False) if dense_too else None
    return sparse.get("total_cost", sparse), dense and dense.get("total_cost", dense)


@lru_cache(maxsize=32)
def _dense_macs(recipe_json: str) -> float:
    from toolchain.compress.model import build_model
    from toolchain.zoo import Recipe

    recipe = Recipe.model_validate_json(recipe_json)
    _, dense = _costs(build_model(recipe), recipe, dense_too=True)
    return float(dense["total_macs"])


def dense_macs(recipe) -> float:
    """MACs of the recipe's dense model (independent of the weights' values)."""
    return _dense_macs(recipe.model_dump_json())


def act_memory_bits(model: nn.Module, recipe) -> int:
    """Σ over activation quantizers of (elements per sample × bits)."""
    total = []

    def hook(module, args, output):
        bits = output.bit_width if hasattr(output, "bit_width") else module.act_quant.bit_width()
        value = output.value if hasattr(output, "value") else output
        total.append(int(value[0].numel()) * int(bits))

    from toolchain.compress.costs import forward_with_hooks

    forward_with_hooks(model, recipe.architecture.input_shape,
                       [m for m in model.modules() if hasattr(m, "act_quant")], hook)
    return sum(total)


def footprint(model: nn.Module, recipe, dense_recipe, accuracy: float) -> dict:
    """The metrics above for `model` (built from `recipe`); `dense_recipe` is the unpruned original."""
    from toolchain.compress.channel_removal import channel_counts

    same = recipe.architecture == dense_recipe.architecture
    sparse, dense = _costs(model, recipe, dense_too=same)
    macs = float(dense["total_macs"]) if same else dense_macs(dense_recipe)
    w_bits, a_bits = float(sparse["total_mem_w_bits"]), float(act_memory_bits(model, recipe))
    bops, float_bops = float(sparse["total_bops"]), FLOAT_BITS * FLOAT_BITS * macs
    from toolchain.compress import costs

    psqs, float_psqs = costs.bops_psqs(model, recipe), costs.float_bops_psqs(dense_recipe)
    elems = costs.feature_map_elems(recipe)
    a_all = float(elems * recipe.quant.act_bits)
    return {"bops_qonnx": bops, "bops_psqs": psqs, "float_bops_psqs": float_psqs,
            "bops_psqs_reduction": float_psqs / psqs, "feature_map_elems": elems,
            "act_mem_bits_quant": a_bits, "act_mem_bits_all": a_all,
            "perf_per_mbit_all": 100.0 * accuracy / ((w_bits + a_all) / 1e6),
            "bops": bops, "macs": float(sparse["total_macs"]), "dense_macs": macs,
            "float_bops": float_bops, "float_bops_def": FLOAT_BOPS_DEF,
            "bops_reduction": float_bops / bops if bops else float("inf"),
            "weight_mem_bits": w_bits, "act_mem_bits": a_bits,
            "perf_per_mbit": 100.0 * accuracy / ((w_bits + a_bits) / 1e6),
            "channels": channel_counts(recipe, dense_recipe)}
