"""Host steps: what the host computes before the first and after the last dataflow op.

The lowering records them in the "hil_io" metadata (JSON lists "input_steps" and "output_steps"), and
every consumer applies them with the functions here, so that `lower`'s verification and
`emulate --inputs` see the same numbers:

* input steps: the source's preprocessing before its input quantizer (Reshape/Flatten, Mul/Add/Sub/Div
  by constants, e.g. FINN's bipolar 2x-1 or (x+1)/2), then the quantizer itself, computed in float32
  exactly as qonnx executes them (qonnx intquant.int_quant: x / scale, clamp, round; bipolar_quant:
  x >= 0 -> +1 else -1). The result is the integer stream of the dataflow input.
* output steps: elementwise ops after the last integer tensor (the float scale and bias of the last
  layer, a BatchNorm, a Softmax): replayed in float32 in the source's order, which equals onnxruntime's
  correctly rounded Mul/Add/Sub/Div bit for bit; BatchNormalization and Softmax are not bit-identical
  (onnxruntime fuses differently), so a graph with them is compared with a stated tolerance
  (toolchain/equality.py).
"""

from __future__ import annotations

import numpy as np

ELEMENTWISE = ("Mul", "Add", "Sub", "Div")


def _f32(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


def quant_integers(x: np.ndarray, step: dict) -> np.ndarray:
    """The integer levels of a Quant/BipolarQuant step on x (float32 arithmetic, as qonnx's)."""
    from qonnx.custom_op.general.intquant import max_int, min_int, resolve_rounding_mode

    x = _f32(x)
    if step["op"] == "BipolarQuant" or (step["bits"] == 1 and step["signed"]):
        return np.where(x >= 0, 1.0, -1.0)
    y = x / _f32(step["scale"]).reshape(step["scale_shape"])
    lo, hi = min_int(step["signed"], step["narrow"], step["bits"]), max_int(step["signed"], step["narrow"], step["bits"])
    y = np.clip(y, np.float32(lo), np.float32(hi))
    return resolve_rounding_mode(step["rounding_mode"])(y).astype(np.float64)


def apply_input_steps(steps: list, x: np.ndarray) -> np.ndarray:
    """Raw source inputs (N, ...) -> the dataflow's integer inputs (float64 integers), source layout."""
    y = _f32(x)
    for step in steps:
        op = step["op"]
        if op == "Reshape":
            y = y.reshape([len(y)] + list(step["shape"][1:]))
        elif op in ELEMENTWISE:
            c = _f32(step["value"]).reshape(step["value_shape"])
            y = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}[op](y, c).astype(np.float32)
        elif op in ("Quant", "BipolarQuant"):
            y = quant_integers(y, step)
        else:
            raise ValueError(f"unknown input step {op}")
    return np.asarray(y, dtype=np.float64)


def quant_scale(steps: list) -> np.ndarray:
    """The scale of the last (quantizer) input step."""
    return np.asarray(steps[-1]["scale"], dtype=np.float64).reshape(steps[-1]["scale_shape"])


def source_inputs(steps: list, x: np.ndarray, has_quantizer: bool) -> np.ndarray:
    """What the source model is fed for raw inputs x: x itself when the source has its own input
    quantizer; else (an input type given to the lowering, QKeras style) the quantized x, so that both
    sides see the same numbers."""
    if has_quantizer:
        return _f32(x)
    return (apply_input_steps(steps, x) * quant_scale(steps)).astype(np.float32)


def invert_input_steps(steps: list, levels: np.ndarray, shape: tuple) -> np.ndarray:
    """Raw inputs (float32, source shape) that the input steps map to (about) the given integer levels:
    the affine steps inverted in float64, for random verification inputs spanning the whole grid."""
    y = np.asarray(levels, dtype=np.float64) * quant_scale(steps)
    for step in reversed(steps[:-1]):
        op = step["op"]
        if op in ELEMENTWISE:
            c = np.asarray(step["value"], dtype=np.float64).reshape(step["value_shape"])
            y = {"Mul": np.divide, "Div": np.multiply, "Add": np.subtract, "Sub": np.add}[op](y, c)
    return y.reshape((len(y),) + tuple(shape[1:])).astype(np.float32)


def apply_output_steps(steps: list, y: np.ndarray) -> np.ndarray:
    """Integer dataflow outputs (N, C) or (N, ...) -> the source's float outputs, float32."""
    out = _f32(y)
    for step in steps:
        op = step["op"]
        if op in ELEMENTWISE:
            c = _f32(step["value"]).reshape(step["value_shape"])
            out = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}[op](out, c)
        elif op == "BatchNormalization":
            g, b, m, v = (_f32(step[k]).reshape(step["value_shape"]) for k in ("scale", "bias", "mean", "var"))
            out = (out - m) / np.sqrt(v + np.float32(step["epsilon"])) * g + b
        elif op == "Softmax":
            z = out - out.max(axis=step["axis"], keepdims=True)
            e = np.exp(z)
            out = e / e.sum(axis=step["axis"], keepdims=True)
        else:
            raise ValueError(f"unknown output step {op}")
        out = out.astype(np.float32)
    return out


def bit_exact(steps: list) -> bool:
    """Whether the output steps replay the source bit for bit (only correctly rounded elementwise ops)."""
    return all(s["op"] in ELEMENTWISE for s in steps)
