"""An integer-annotated graph input (raw 8-bit pixels, FINN's convention): the preprocessing and the
input quantizer after it become a Thresholding node on the pixel stream, and the host sends the
pixels unchanged (hil_io input_scale 1)."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from tests.unit.test_passes_common import QGraph
from toolchain.errors import UserError
from toolchain.lower import grid_inputs, lower_model, stream_inputs, verify
from toolchain.passes.common import get_io

W = np.array([[1.0, -1.0, 1.0, 1.0, -1.0, 1.0], [-1.0, -1.0, 1.0, -1.0, 1.0, 1.0]])


def _pixels(g: QGraph) -> str:
    """x/255, then 2x-1 (brevitas_examples bnn_pynq FC/CNV forward, FINN's ToTensor in front)."""
    x = g.node("Div", ["global_in", g.init(255.0)])
    return g.node("Sub", [g.node("Mul", [x, g.init(2.0)]), g.init(1.0)])


def tfc_like():
    """UINT8 pixels -> preprocessing -> BipolarQuant -> binary Gemm (6 -> 2)."""
    g = QGraph([1, 6])
    y = g.bipolar(_pixels(g))
    model = g.build(g.gemm(y, g.weight(W, bits=1)))
    model.set_tensor_datatype("global_in", DataType["UINT8"])
    return model


def cnv_like():
    """UINT8 3x3x3 image -> preprocessing -> INT8 Quant (Q1.7, as FINN's CNV) -> 3x3 binary conv (one
    output pixel, so NCHW and NHWC outputs compare directly)."""
    g = QGraph([1, 3, 3, 3])
    y = g.quant(_pixels(g), 2**-7, 8)
    w = np.sign(np.random.default_rng(0).standard_normal((2, 3, 3, 3)))
    model = g.build(g.node("Conv", [y, g.weight(w, bits=1)], kernel_shape=[3, 3]))
    model.set_tensor_datatype("global_in", DataType["UINT8"])
    return model


def every_pixel(model) -> np.ndarray:
    """All 256 values, each at every input position."""
    shape = model.get_tensor_shape("global_in")[1:]
    return np.broadcast_to(np.arange(256.0).reshape((256,) + (1,) * len(shape)), (256, *shape)).astype(np.float32)


def test_pixel_input_binarizes_in_a_thresholding_node():
    src = tfc_like()
    df = lower_model(src)
    nodes = [n for n in df.graph.node if n.op_type not in ("FIFO", "DWC")]
    assert [n.name for n in nodes] == ["Thresholding_0", "MVAU_0"]
    thr = getCustomOp(nodes[0])
    assert (thr.get_nodeattr("inputDataType"), thr.get_nodeattr("outputDataType")) == ("UINT8", "BIPOLAR")
    # 2·p/255 - 1 >= 0 exactly from p = 128 on (BipolarQuant maps 0 to +1)
    assert np.array_equal(df.get_initializer(nodes[0].input[1]), np.full((6, 1), 128.0))
    io = get_io(df)
    assert (io["input_scale"], io["input_dtype"]) == (1.0, "UINT8")
    assert getCustomOp(nodes[1]).get_nodeattr("binaryXnorMode") == 1
    assert verify(src, df, every_pixel(src)) == {"samples": 256, "mismatches": 0}


def test_pixel_image_quantized_to_8_bits_in_a_thresholding_node():
    src = cnv_like()
    df = lower_model(src)
    nodes = [n for n in df.graph.node if n.op_type not in ("FIFO", "DWC")]
    assert [n.op_type for n in nodes] == ["Thresholding", "SWG", "MVAU"]
    thr = getCustomOp(nodes[0])
    assert thr.get_nodeattr("numSteps") == 255 and thr.get_nodeattr("ActVal") == -128
    assert thr.get_nodeattr("numInputVectors") == [1, 3, 3] and thr.get_nodeattr("NumChannels") == 3
    assert getCustomOp(nodes[2]).get_nodeattr("inputDataType") == "INT8"
    assert verify(src, df, every_pixel(src))["mismatches"] == 0
    assert verify(src, df, grid_inputs(src, 200))["mismatches"] == 0


def test_host_values_off_the_pixel_grid_are_refused():
    src = tfc_like()
    df = lower_model(src)
    with pytest.raises(UserError, match=r"input is UINT8.*not all on that grid"):
        stream_inputs(src, df, np.full((1, 6), 0.5, dtype=np.float32))
    with pytest.raises(UserError, match=r"input is UINT8"):
        stream_inputs(src, df, np.full((1, 6), 256.0, dtype=np.float32))


def test_grid_inputs_of_a_pixel_model_are_pixels():
    x = grid_inputs(cnv_like(), 50)
    assert x.shape == (50, 3, 3, 3) and x.min() >= 0 and x.max() <= 255 and np.array_equal(x, np.round(x))
