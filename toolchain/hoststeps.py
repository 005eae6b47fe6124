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

Every backend uses these functions, not a copy: `emulate --inputs` and `lower` call them here, and the
projects that `hil build` writes (hls4ml, FINN handoff) get the steps as data (host_steps.json) and a
driver, host.py, whose functions are the source text of the ones below (`driver_source`), so a
generated project needs numpy only and computes what the emulator computes, bit for bit.
"""

from __future__ import annotations

import numpy as np

ELEMENTWISE = ("Mul", "Add", "Sub", "Div")


def _f32(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


def _rounding(mode: str, y: np.ndarray) -> np.ndarray:
    """qonnx intquant.resolve_rounding_mode, without importing qonnx (the generated driver needs numpy only)."""
    m = mode.upper()
    if m in ("ROUND", "HALF_EVEN"):
        return np.round(y)
    if m == "CEIL":
        return np.ceil(y)
    if m == "FLOOR":
        return np.floor(y)
    if m == "UP":
        return np.sign(y) * np.ceil(np.abs(y))
    if m == "DOWN":
        return np.fix(y)
    if m == "HALF_UP":
        return np.sign(y) * np.floor(np.abs(y) + 0.5)
    if m == "HALF_DOWN":
        return np.sign(y) * np.ceil(np.abs(y) - 0.5)
    raise ValueError(f"unknown rounding mode {mode}")


def _int_range(signed: int, narrow: int, bits: int) -> tuple[int, int]:
    """qonnx intquant min_int / max_int: the integer range of a quantizer."""
    if signed:
        return -(2 ** (bits - 1)) + (1 if narrow else 0), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - (1 if narrow else 0)


def quant_integers(x: np.ndarray, step: dict) -> np.ndarray:
    """The integer levels of a Quant/BipolarQuant step on x (float32 arithmetic, as qonnx's)."""
    x = _f32(x)
    if step["op"] == "BipolarQuant" or (step["bits"] == 1 and step["signed"]):
        return np.where(x >= 0, 1.0, -1.0)
    y = x / _f32(step["scale"]).reshape(step["scale_shape"])
    lo, hi = _int_range(step["signed"], step["narrow"], step["bits"])
    y = np.clip(y, np.float32(lo), np.float32(hi))
    return _rounding(step["rounding_mode"], y).astype(np.float64)


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


def to_layout(x: np.ndarray, channels_last: bool) -> np.ndarray:
    """A 4-D batch in the source's NCHW layout -> the dataflow's NHWC layout when it is channels-last
    (metadata hil_layout; toolchain.contract.to_dataflow_layout is the checked form of this rule)."""
    x = np.asarray(x)
    return x.transpose(0, 2, 3, 1) if channels_last and x.ndim == 4 else x


def host_steps(io, channels_last: bool) -> dict:
    """What a generated project's host.py reads (host_steps.json): the recorded steps of a design's
    contract (toolchain.contract.IOContract) and its stream layout."""
    return {"input_steps": list(io.input_steps or []), "output_steps": list(io.output_steps or []),
            "input_scale": io.input_scale, "input_dtype": io.input_dtype, "output_kind": io.output_kind.value,
            "output_scale": io.output_scale, "output_bias": io.output_bias, "channels_last": bool(channels_last)}


def to_stream(spec: dict, x: np.ndarray) -> np.ndarray:
    """Raw source inputs (N, ...) -> the design's integer input stream (N, ...) in its layout: the input
    steps, or x / input_scale when none are recorded (an integer input stream, e.g. raw UINT8 pixels)."""
    if spec["input_steps"]:
        xi = apply_input_steps(spec["input_steps"], x)
    else:
        xi = np.asarray(x, dtype=np.float64) / spec["input_scale"]
    return to_layout(xi, spec["channels_last"])


def from_stream(spec: dict, y_int: np.ndarray) -> np.ndarray:
    """The design's integer outputs (N, ...) -> what the source model outputs: the output steps, or
    y_int * output_scale + output_bias; labels (a LabelSelect design) as they are."""
    y = np.asarray(y_int)
    if spec["output_kind"] == "labels":
        return y
    if spec["output_steps"]:
        return apply_output_steps(spec["output_steps"], y.reshape(len(y), -1)).reshape(y.shape)
    return y.astype(np.float64) * spec["output_scale"] + spec["output_bias"]


# the functions a generated project's host.py carries, as their source text (one implementation)
DRIVER_FUNCTIONS = ("_f32", "_rounding", "_int_range", "quant_integers", "apply_input_steps", "apply_output_steps",
                    "to_layout", "to_stream", "from_stream")

DRIVER_HEADER = '''"""Host steps of this design: what the host computes before and after the hardware.

    import host
    x_int = host.pre(x)        # raw inputs of the source model (N, ...) -> the integer input stream
    y = host.post(y_int)       # the design's integer outputs -> the source model's outputs

The steps are data (host_steps.json beside this file, written by `hil build`); the functions are the
source text of toolchain/hoststeps.py, so this driver computes what `hil emulate --inputs` computes.
Needs numpy only. {note}
"""

import json
from pathlib import Path

import numpy as np

ELEMENTWISE = ("Mul", "Add", "Sub", "Div")
SPEC = json.loads((Path(__file__).resolve().parent / "host_steps.json").read_text())

'''

DRIVER_FOOTER = '''

def pre(x: np.ndarray) -> np.ndarray:
    """Raw source inputs (N, ...) -> the integer input stream the design reads (N, ...), its layout."""
    return to_stream(SPEC, x)


def post(y_int: np.ndarray) -> np.ndarray:
    """The design's integer outputs (N, ...) -> the source model's outputs (float32 host steps)."""
    return from_stream(SPEC, y_int)
'''


def driver_source(note: str = "") -> str:
    """host.py of a generated project: DRIVER_FUNCTIONS as written in this module, and pre/post."""
    import inspect
    import sys

    module = sys.modules[__name__]
    body = "\n\n".join(inspect.getsource(getattr(module, name)) for name in DRIVER_FUNCTIONS)
    return DRIVER_HEADER.replace("{note}", note) + body + DRIVER_FOOTER
