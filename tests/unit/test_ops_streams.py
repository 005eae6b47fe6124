"""MaxPool, LabelSelect, DWC, FIFO, AddStreams, DuplicateStreams, FMPadding: values vs numpy,
token schedules vs FINN cycles, FINN resource formulas."""

import numpy as np
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_shapes import InferShapes

from hw.cost.resources import CostModel
from hw.ops.base import make_hw_node
from hw.ops.graph import NodeSpec, linear_model

RNG = np.random.default_rng(3)


def op(op_type, n_in=1, n_out=1, **attrs):
    ins = [f"in{i}" for i in range(n_in)]
    outs = [f"out{i}" for i in range(n_out)]
    return getCustomOp(make_hw_node(op_type, ins, outs, f"{op_type}_0", **attrs))


def test_maxpool_values_and_schedule():
    mp = op("StreamingMaxPool", ImgDim=[8, 8], PoolDim=[2, 2], NumChannels=3, dataType="INT4")
    x = RNG.integers(-8, 8, size=(2, 8, 8, 3)).astype(np.float32)
    (y,) = mp.execute([x])
    ref = np.array([[[x[n, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max(axis=(0, 1)) for j in range(4)]
                     for i in range(4)] for n in range(2)])
    assert np.array_equal(y, ref)
    ts = mp.token_schedule()
    assert ts.firings == mp.cycles() == 64 + 16  # ifm²·(1 + 1/k²)
    assert ts.words_in() == 64 and ts.words_out() == 16 and mp.instream_width() == 12
    assert "multiple of PoolDim" in op("StreamingMaxPool", ImgDim=[7, 7], PoolDim=[2, 2], NumChannels=3,
                                       dataType="INT4").verify_node()[0]


def test_labelselect_ties_follow_hlslib():
    ls = op("LabelSelect", Labels=6, PE=2, K=3, inputDataType="INT8")
    x = np.array([[3, 5, 5, 1, 5, 0], [-128, -128, 7, -128, -128, -128], [2, 2, 2, 2, 2, 2]], np.float32)
    (y,) = ls.execute([x])
    # equal values: lower index first; type-minimum values never enter (label 0 remains)
    assert y.tolist() == [[1, 2, 4], [2, 0, 0], [0, 1, 2]]
    assert ls.output_datatype().name == "UINT8"  # FINN: smallest UINT, rounded up to 8 bits
    ts = ls.token_schedule()
    assert ls.cycles() == 3 and ts.words_in() == 3 and ts.words_out() == 3 and ts.firings == 3 + 3


def _hls_labelselect(vals, k, vmin):
    """Line-by-line replay of finn-hlslib LabelSelect_Batch for one vector."""
    topval, toplab = [vmin] * k, [0] * k
    for idx, val in enumerate(vals):
        cmp = [val > t for t in topval] + [False]
        for i in range(k):
            if cmp[i]:
                if cmp[i + 1]:
                    topval[i], toplab[i] = topval[i + 1], toplab[i + 1]
                else:
                    topval[i], toplab[i] = val, idx
    return toplab[::-1]


def test_labelselect_matches_hls_replay_on_random_ties():
    ls = op("LabelSelect", Labels=10, PE=1, K=4, inputDataType="UINT2")
    x = RNG.integers(0, 4, size=(200, 10)).astype(np.float32)
    (y,) = ls.execute([x])
    assert y.tolist() == [_hls_labelselect(list(r), 4, 0) for r in x]


def test_dwc_passthrough_schedule_and_lut():
    dwc = op("DWC", shape=[1, 64], inWidth=4, outWidth=2, dataType="UINT2")
    x = RNG.integers(0, 4, size=(1, 64)).astype(np.float32)
    assert np.array_equal(dwc.execute([x])[0], x)
    ts = dwc.token_schedule()
    assert (ts.words_in(), ts.words_out(), ts.firings) == (32, 64, 64)
    assert dwc.cycles() == 0 and dwc.resources(CostModel.FINN).LUT == 3  # ceil(log2(4/2)) + 2
    assert op("DWC", shape=[1, 48], inWidth=6, outWidth=2, dataType="UINT2").verify_node() == []
    assert "inWidth=3" in op("DWC", shape=[1, 64], inWidth=3, outWidth=2, dataType="UINT2").verify_node()[0]


def test_fifo_resources_follow_streamingfifo():
    f = op("FIFO", depth=100, shape=[1, 32, 2], dataType="UINT2")
    assert f.instream_width() == 4 and f.normal_input_shape() == (1, 64)
    # rtl, finn-plus resource_models.py: depth 100 resolves to LUTRAM; W padded to 8, 128 rows, counter 8 bits:
    # ceil(128/32)·ceil(8/2)·5/4 + (128//128)·(8//2) + 8·8 - 15
    assert f.resources(CostModel.FINN).LUT == 20 + 4 + 49
    f = op("FIFO", depth=1000, shape=[1, 32, 2], dataType="UINT8", impl_style="vivado", ram_style="block")
    r = f.resources(CostModel.FINN)
    assert (r.LUT, r.BRAM_18K) == (2 * 10, 1)  # depth -> 1024, W = 16 -> ceil(1024/1024)·ceil(16/18)
    assert "depth=1" in op("FIFO", depth=1, shape=[1, 4, 1], dataType="UINT2").verify_node()[0]


def test_addstreams_values_dtype_and_schedule():
    add = op("AddStreams", n_in=2, NumChannels=8, PE=2, inputDataTypes=["INT4", "INT4"], numInputVectors=[1, 3, 3])
    a, b = (RNG.integers(-8, 8, size=(2, 3, 3, 8)).astype(np.float32) for _ in range(2))
    assert np.array_equal(add.execute([a, b])[0], a + b)
    assert add.output_datatype().name == "INT5"  # FINN: next larger int of INT4
    mixed = op("AddStreams", n_in=2, NumChannels=8, PE=2, inputDataTypes=["UINT4", "UINT4"])
    assert mixed.output_datatype().name == "UINT5"
    assert op("AddStreams", n_in=2, NumChannels=8, PE=2, inputDataTypes=["INT4", "UINT8"]).output_datatype().name == "INT10"
    ts = add.token_schedule()
    assert ts.firings == add.cycles() == 9 * 4 and ts.words_in(0) == ts.words_in(1) == ts.words_out() == 36


def test_duplicatestreams_and_shape_inference():
    dup = op("DuplicateStreams", n_out=2, NumChannels=4, PE=2, inputDataType="UINT2")
    x = RNG.integers(0, 4, size=(1, 4)).astype(np.float32)
    y0, y1 = dup.execute([x])
    assert np.array_equal(y0, x) and np.array_equal(y1, x)
    ts = dup.token_schedule()
    assert ts.firings == dup.cycles() == 2 and ts.words_out(0) == ts.words_out(1) == 2


def test_fmpadding_values_and_schedule():
    pad = op("FMPadding", ImgDim=[4, 5], Padding=[1, 2, 0, 1], NumChannels=4, SIMD=2, inputDataType="INT4")
    x = RNG.integers(-8, 8, size=(1, 4, 5, 4)).astype(np.float32)
    (y,) = pad.execute([x])
    assert np.array_equal(y, np.pad(x, ((0, 0), (1, 0), (2, 1), (0, 0))))
    ts = pad.token_schedule()
    assert ts.firings == pad.cycles() == 2 * 5 * 8 and ts.words_in() == 4 * 5 * 2 and ts.words_out() == 80
    assert "zero padding" in op("FMPadding", ImgDim=[4, 4], Padding=[1, 1, 1, 1], NumChannels=4,
                                inputDataType="BIPOLAR").verify_node()[0]


def test_cnv_style_graph_executes_and_infers_shapes():
    w = RNG.integers(-1, 2, size=(3 * 3 * 2, 4)).astype(np.float32)
    thr = np.sort(RNG.integers(-5, 5, size=(4, 3)), axis=1).astype(np.float32)
    model = linear_model([
        NodeSpec("FMPadding", dict(ImgDim=[6, 6], Padding=[1, 1, 1, 1], NumChannels=2, inputDataType="INT4")),
        NodeSpec("SWG", dict(ConvKernelDim=[3, 3], IFMChannels=2, IFMDim=[8, 8], OFMDim=[6, 6], SIMD=1,
                             Stride=[1, 1], inputDataType="INT4", outputDataType="INT4")),
        NodeSpec("MVAU", dict(MW=18, MH=4, PE=1, SIMD=1, inputDataType="INT4", weightDataType="INT2",
                              outputDataType="UINT2", numInputVectors=[1, 6, 6]), [w, thr]),
        NodeSpec("StreamingMaxPool", dict(ImgDim=[6, 6], PoolDim=[2, 2], NumChannels=4, dataType="UINT2")),
    ])
    model = model.transform(InferShapes())
    assert model.get_tensor_shape("global_out") == [1, 3, 3, 4]
    x = RNG.integers(-8, 8, size=(1, 6, 6, 2)).astype(np.float32)
    y = execute_onnx(model, {"global_in": x})["global_out"]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.stack([xp[0, i:i + 6, j:j + 6, :] for i in range(3) for j in range(3)], axis=2).reshape(1, 6, 6, 18)
    act = ((cols @ w)[..., None] >= thr).sum(-1)
    assert np.array_equal(y, act.reshape(1, 3, 2, 3, 2, 4).max(axis=(2, 4)))
    assert [n.name for n in model.graph.node] == ["FMPadding_0", "SWG_0", "MVAU_0", "MaxPool_0"]


def test_residual_duplicate_add_graph_infers_shapes_and_executes():
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    n1 = make_hw_node("DuplicateStreams", ["x"], ["a", "b"], "DuplicateStreams_0", NumChannels=4, PE=1,
                      inputDataType="INT4")
    n2 = make_hw_node("AddStreams", ["a", "b"], ["y"], "AddStreams_0", NumChannels=4, PE=1,
                      inputDataTypes=["INT4", "INT4"])
    graph = helper.make_graph([n1, n2], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_tensor_datatype("x", DataType["INT4"])
    model = model.transform(InferShapes())
    assert model.get_tensor_shape("a") == model.get_tensor_shape("b") == [1, 4]
    y = execute_onnx(model, {"x": np.array([[1, 2, 3, -4]], np.float32)})["y"]
    assert y.tolist() == [[2, 4, 6, -8]]
