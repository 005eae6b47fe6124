"""A Brevitas model -> a cleaned-up QONNX model (brevitas.export.export_qonnx + qonnx cleanup_model).

Shared by `hil export` (which verifies the result against torch) and the compression metrics
(toolchain/compress/footprint.py, which runs qonnx inference_cost on it); it sits below both.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Optional


@contextmanager
def quiet():
    """Silence the torch.onnx exporter, which prints its progress on stdout."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms" is harmless
    try:
        with open(os.devnull, "w") as devnull, redirect_stdout(devnull), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def recipe_input_dtype(recipe) -> Optional[str]:
    """The DataType name of the graph input of a recipe's model, or None for a float input."""
    from toolchain.zoo import InputKind

    return "UINT8" if recipe.architecture.input_kind is InputKind.UINT8 else None


@contextmanager
def unsigned_binary_as_quant():
    """Workaround for a Brevitas export bug (brevitas/export/onnx/qonnx/handler.py,
    BrevitasQuantProxyHandler.prepare_for_export and BrevitasWeightQuantProxyHandler.prepare_for_export,
    Brevitas 0.12): every 1-bit quantizer is exported as BipolarQuant, whose values are {-s, +s}, even an
    UNSIGNED one such as a 1-bit QuantReLU, whose values are {0, s}. The exported graph then computes a
    different function and the torch-vs-QONNX check fails on every sample. An unsigned 1-bit quantizer is
    an ordinary QONNX Quant(bitwidth=1, signed=0), which qonnx executes as round-and-clip to [0, 1]; this
    puts that op back for unsigned ones and leaves signed (truly bipolar) ones alone."""
    from brevitas.export.onnx.qonnx import handler as h

    patched = (h.BrevitasQuantProxyHandler, h.BrevitasWeightQuantProxyHandler)
    originals = [cls.__dict__["prepare_for_export"] for cls in patched]

    def fixed(original):
        def prepare_for_export(self, module):
            original(self, module)
            kwargs = getattr(self, "symbolic_kwargs", None)
            if kwargs and int(kwargs["bit_width"]) == 1 and not bool(kwargs["signed"]):
                self.quant_op = h.BrevitasQuantOp
        return prepare_for_export

    for cls, original in zip(patched, originals):
        cls.prepare_for_export = fixed(original)
    try:
        yield
    finally:
        for cls, original in zip(patched, originals):
            cls.prepare_for_export = original


def to_qonnx(model, input_shape: tuple[int, ...], path: Path, input_dtype: Optional[str] = None):
    """export_qonnx + cleanup_model (+ the graph input's DataType annotation); returns the qonnx
    ModelWrapper saved at `path`."""
    import torch
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    model.eval()
    # the exporter may write weights to a side file named after its path: keep that in a scratch
    # folder, and save the cleaned model as one self-contained file
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.onnx"
        with quiet(), unsigned_binary_as_quant():
            export_qonnx(model, input_t=torch.zeros(1, *input_shape), export_path=str(raw))
        wrapped = cleanup_model(ModelWrapper(str(raw)))
    if input_dtype is not None:
        from qonnx.core.datatype import DataType

        wrapped.set_tensor_datatype(wrapped.graph.input[0].name, DataType[input_dtype])
    wrapped.save(str(path))
    return wrapped
