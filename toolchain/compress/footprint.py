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

`footprint(..., via_qonnx=False)` reads the qonnx numbers off the Brevitas model instead of exporting
it (`direct_costs`: the same formulas as qonnx analysis/inference_cost.py inference_cost_matmul /
inference_cost_conv, equal to the export path, tests/unit/test_compress_metrics.py): the export costs
~15 s per call, which dominated the seed study (scripts/reproduce_seed.py).
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


def _input_bits(x) -> int:
    """Bits of a layer's input as qonnx's DataType sees it: a QuantTensor's bit width, else float32."""
    bits = getattr(x, "bit_width", None)
    return FLOAT_BITS if bits is None else int(bits)


def direct_costs(model: nn.Module, recipe, discount_sparsity: bool = True) -> dict:
    """qonnx inference_cost's totals (`total_macs`, `total_bops`, `total_mem_w_bits`) computed on the
    Brevitas model: per Linear/Conv, MACs = fan-in × outputs (conv: qonnx's (c_out/group)·c_in·k·k per
    output pixel), bits of its input and weight quantizers, and, with `discount_sparsity`, MACs and
    weight memory × the fraction of non-zero integer weights (biases are an Add: zero cost in qonnx)."""
    from toolchain.compress.costs import forward_with_hooks

    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    seen: dict[int, tuple[int, int]] = {}

    def hook(mod, args, out):
        value = out.value if hasattr(out, "value") else out
        seen[id(mod)] = (_input_bits(args[0]), int(value[0].numel()))

    forward_with_hooks(model, recipe.architecture.input_shape, layers, hook)
    macs = bops = mem_w = 0.0
    for m in layers:
        b_in, outputs = seen[id(m)]
        with torch.no_grad():
            if hasattr(m, "quant_weight"):
                qw = m.quant_weight()
                w, b_w = qw.value, int(qw.bit_width)
            else:
                w, b_w = m.weight.detach(), FLOAT_BITS
        if isinstance(m, nn.Linear):
            n = m.in_features * outputs
        else:
            pixels = outputs // m.out_channels
            n = (m.out_channels // m.groups) * m.in_channels * m.kernel_size[0] * m.kernel_size[1] * pixels
        density = float((w != 0).sum()) / w.numel() if discount_sparsity else 1.0
        macs += n * density
        bops += n * density * b_in * b_w
        mem_w += w.numel() * density * b_w
    return {"total_macs": macs, "total_bops": bops, "total_mem_w_bits": mem_w}


def _dense_macs_direct(recipe) -> float:
    from toolchain.compress.model import build_model

    return direct_costs(build_model(recipe), recipe, discount_sparsity=False)["total_macs"]


@lru_cache(maxsize=32)
def _dense_macs(recipe_json: str) -> float:
    from toolchain.compress.model import build_model
    from toolchain.zoo import Recipe

    recipe = Recipe.model_validate_json(recipe_json)
    _, dense = _costs(build_model(recipe), recipe, dense_too=True)
    return float(dense["total_macs"])


def dense_macs(recipe, via_qonnx: bool = True) -> float:
    """MACs of the recipe's dense model (independent of the weights' values)."""
    return _dense_macs(recipe.model_dump_json()) if via_qonnx else _dense_macs_direct(recipe)


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


def footprint(model: nn.Module, recipe, dense_recipe, accuracy: float, via_qonnx: bool = True) -> dict:
    """The metrics above for `model` (built from `recipe`); `dense_recipe` is the unpruned original.
    `via_qonnx=False`: the qonnx numbers from `direct_costs`, without the export."""
    from toolchain.compress.channel_removal import channel_counts

    same = recipe.architecture == dense_recipe.architecture
    if via_qonnx:
        sparse, dense = _costs(model, recipe, dense_too=same)
        macs = float(dense["total_macs"]) if same else dense_macs(dense_recipe)
    else:
        sparse = direct_costs(model, recipe)
        macs = direct_costs(model, recipe, False)["total_macs"] if same else dense_macs(dense_recipe, False)
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
