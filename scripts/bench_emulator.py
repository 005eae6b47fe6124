"""Emulator speed: bit-exact values vs qonnx execute_onnx and onnxruntime, and the timing engine's
token·node updates per second on a CNV-like graph. Prints a table.

    .venv/bin/python scripts/bench_emulator.py [--samples 2000] [--frames 2] [--fold 1]

Networks (random integer weights; no training involved):
* values: an SFC-like MLP 784-256-256-256-10 (INT2 weights, UINT2 threshold activations, INT8
  input) as a hw.ops dataflow model. Baselines: qonnx execute_onnx on that same dataflow model (one
  sample at a time, the way qonnx executes custom ops) and onnxruntime on an equivalent standard-ONNX
  graph (MatMul, GreaterOrEqual, ReduceSum), checked equal to ours before timing.
* timing: CNV (BNN-PYNQ topology: 6 conv 3x3 with 2 max-pools, 3 FC, LabelSelect) as SWG / MVAU /
  StreamingMaxPool / DWC / LabelSelect nodes, every PE = SIMD = `--fold` (conv1 SIMD = 3), DWCs
  where stream widths differ. Updates = computed events (active firings + write events, source
  and sink words included).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from onnx import TensorProto, helper
from qonnx.custom_op.registry import getCustomOp

from hw.emulator import kernel as K
from hw.emulator.compile import compile_graph
from hw.emulator.fifo_sizing import size_fifos
from hw.emulator.graph import SimConfig
from hw.emulator.timing import _result
from hw.emulator.values import build_timing_graph, execute_dataflow
from hw.ops.base import make_hw_node
from hw.ops.graph import NodeSpec, linear_model

RNG = np.random.default_rng(0)


def _op(spec: NodeSpec):
    return getCustomOp(make_hw_node(spec.op_type, ["x"] + [f"p{i}" for i in range(len(spec.inits))], ["y"], "tmp",
                                    **spec.attrs))


def with_dwcs(specs: list[NodeSpec]) -> list[NodeSpec]:
    """Insert a DWC wherever a producer's output width differs from its consumer's input width."""
    out = [specs[0]]
    for spec in specs[1:]:
        prod, cons = _op(out[-1]), _op(spec)
        if prod.outstream_width() != cons.instream_width():
            out.append(NodeSpec("DWC", dict(shape=list(prod.normal_output_shape()), inWidth=prod.outstream_width(),
                                            outWidth=cons.instream_width(), dataType=prod.output_datatype().name)))
        out.append(spec)
    return out


def mvau_spec(mw, mh, pe, simd, vec, idt="UINT2", odt="UINT2", act=True):
    w = RNG.integers(-1, 2, size=(mw, mh)).astype(np.float32)
    attrs = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType=idt, weightDataType="INT2", accDataType="INT32",
                 numInputVectors=vec)
    if not act:
        return NodeSpec("MVAU", {**attrs, "outputDataType": "INT32", "noActivation": 1}, [w])
    thr = np.sort(RNG.integers(-mw // 4, mw // 4, size=(mh, 3)), axis=1).astype(np.float32)
    return NodeSpec("MVAU", {**attrs, "outputDataType": odt}, [w, thr])


def cnv_like(fold: int):
    specs, ch, dim = [], 3, 32
    for cout, pool in ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False)):
        simd = 3 if ch == 3 else fold
        odim = dim - 2
        idt = "INT8" if ch == 3 else "UINT2"
        specs.append(NodeSpec("SWG", dict(ConvKernelDim=[3, 3], IFMChannels=ch, IFMDim=[dim, dim], OFMDim=[odim, odim],
                                          SIMD=simd, Stride=[1, 1], inputDataType=idt, outputDataType=idt)))
        specs.append(mvau_spec(9 * ch, cout, fold, simd, [1, odim, odim], idt=idt))
        ch, dim = cout, odim
        if pool:
            specs.append(NodeSpec("StreamingMaxPool", dict(ImgDim=[dim, dim], PoolDim=[2, 2], NumChannels=ch,
                                                           dataType="UINT2")))
            dim //= 2
    specs += [mvau_spec(256, 512, fold, fold, [1]), mvau_spec(512, 512, fold, fold, [1]),
              mvau_spec(512, 10, 1, fold, [1], act=False),
              NodeSpec("LabelSelect", dict(Labels=10, PE=1, K=1, inputDataType="INT32"))]
    return linear_model(with_dwcs(specs), name="cnv_like")


def sfc_like():
    return linear_model([mvau_spec(784, 256, 16, 49, [1], idt="INT8"), mvau_spec(256, 256, 16, 16, [1]),
                         mvau_spec(256, 256, 16, 16, [1]), mvau_spec(256, 10, 10, 16, [1], act=False)], name="sfc_like")


def standard_onnx(model):
    """The same integer function in standard ONNX ops, for onnxruntime."""
    nodes, inits, prev = [], [], "x"
    for i, n in enumerate(model.graph.node):
        w = model.get_initializer(n.input[1])
        inits.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, w.shape, w.ravel()))
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"acc{i}"]))
        prev = f"acc{i}"
        if len(n.input) > 2:
            t = model.get_initializer(n.input[2])
            inits += [helper.make_tensor(f"t{i}", TensorProto.FLOAT, t.shape, t.ravel()),
                      helper.make_tensor(f"ax{i}", TensorProto.INT64, [1], [-1])]
            nodes += [helper.make_node("Unsqueeze", [prev, f"ax{i}"], [f"u{i}"]),
                      helper.make_node("GreaterOrEqual", [f"u{i}", f"t{i}"], [f"ge{i}"]),
                      helper.make_node("Cast", [f"ge{i}"], [f"c{i}"], to=TensorProto.FLOAT),
                      helper.make_node("ReduceSum", [f"c{i}", f"ax{i}"], [f"y{i}"], keepdims=0)]
            prev = f"y{i}"
    g = helper.make_graph(nodes, "std", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["N", 10])], initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def rate(fn, n: int, min_seconds: float = 1.0) -> float:
    fn()  # warm-up (compilation, session creation)
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return n * reps / dt


def bench_values(samples: int) -> list[tuple[str, str]]:
    import onnxruntime as ort
    from qonnx.core.onnx_exec import execute_onnx

    model = sfc_like()
    x = RNG.integers(-128, 128, size=(samples, 784)).astype(np.float32)
    ours = lambda: execute_dataflow(model, {"global_in": x})["global_out"]  # noqa: E731
    sess = ort.InferenceSession(standard_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x})[0]
    assert np.array_equal(ours(), ref), "onnxruntime baseline disagrees with the emulator"
    q = min(samples, 200)
    qonnx = lambda: [execute_onnx(model, {"global_in": x[i:i + 1]}) for i in range(q)]  # noqa: E731
    assert np.array_equal(execute_onnx(model, {"global_in": x[:1]})["global_out"], ref[:1])
    return [("values: emulator execute_dataflow (batch)", f"{rate(ours, samples):,.0f} samples/s"),
            ("values: qonnx execute_onnx (per sample)", f"{rate(qonnx, q):,.0f} samples/s"),
            ("values: onnxruntime, standard-ONNX twin (batch)",
             f"{rate(lambda: sess.run(None, {'x': x}), samples):,.0f} samples/s")]


def bench_timing(fold: int, frames: int) -> list[tuple[str, str]]:
    t0 = time.perf_counter()
    model = cnv_like(fold)
    graph = build_timing_graph(model)
    t_build = time.perf_counter() - t0
    config = SimConfig(frames=frames)
    c = compile_graph(graph, config)
    K.run_kernel(*compile_graph(graph, SimConfig(frames=1)).kernel_args())  # JIT warm-up
    t0 = time.perf_counter()
    status = K.run_kernel(*c.kernel_args())
    t_run = time.perf_counter() - t0
    result = _result(graph, c, status != 0)
    events = int(c.st[:, K.FJ].sum() + c.st[:, K.WED].sum())
    cycles = result.total_cycles
    t0 = time.perf_counter()
    sizing = size_fifos(graph, SimConfig(frames=2))
    t_size = time.perf_counter() - t0
    return [(f"timing: CNV-like, fold {fold}, {len(graph.nodes)} nodes, {frames} frames", f"{events:,} events"),
            ("timing: simulated cycles / interval / max node cycles",
             f"{cycles:,} / {result.interval:,.0f} / {graph.max_node_cycles():,}"),
            ("timing: graph build (ops -> schedules)", f"{t_build:.2f} s"),
            ("timing: kernel", f"{t_run:.3f} s"),
            ("timing: token·node updates per second", f"{events / t_run:,.3g}"),
            ("timing: simulated cycles per second", f"{cycles / t_run:,.3g}"),
            ("FIFO sizing (3 runs + proof): seconds / interval sized vs default depths",
             f"{t_size:.2f} s / {sizing.interval_sized:,.0f} vs {result.interval:,.0f}"),
            ("FIFO sizing: total depth (words) / proven full throughput",
             f"{sum(sizing.depths.values()):,} / {sizing.full_throughput}")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--fold", type=int, default=1)
    args = ap.parse_args()
    rows = bench_timing(args.fold, args.frames) + bench_values(args.samples)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
