"""Seeded (model, folding, part) configurations for the FINN differential tests.

Each configuration is a small dataflow graph of our `hw.ops` (hw.ops.graph.linear_model): single
nodes of every op with a FINN counterpart, across datatypes, foldings and memory attributes, plus
MLPs (Thresholding → MVAU → DWC → FIFO → ... → LabelSelect) and CNN tails (MVAUs and Thresholdings
over an H×W feature map), then rtl-style SWGs (finn-plus's ConvolutionInputGenerator_rtl) and
rtl-style max-pools (FINN's SWG + Pool pair) from a second stream of the same seed, so the first
groups do not change when these grow. The same seed always gives the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hw.ops.base import divisors
from hw.ops.graph import NodeSpec, linear_model

PARTS = ("xc7z020clg400-1", "xczu7ev-ffvc1156-2-e", "xcu250-figd2104-2L-e")
QUANT_DTYPES = ("UINT2", "UINT4", "INT2", "INT4", "UINT8", "INT8", "BIPOLAR")
WEIGHT_DTYPES = ("INT2", "INT4", "INT8", "BIPOLAR", "TERNARY")
OUT_DTYPES = ("UINT2", "UINT4", "BIPOLAR", "INT4")


@dataclass
class Config:
    name: str
    part: str
    specs: list[NodeSpec]

    def model(self):
        return linear_model(self.specs, name=self.name)


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _fold(rng, n: int, cap: int = 64) -> int:
    return _pick(rng, [d for d in divisors(n) if d <= cap])


def _steps(odt: str) -> int:
    """Threshold steps of an activation to `odt`: 2^bits - 1 (one for BIPOLAR)."""
    return 1 if odt == "BIPOLAR" else 2 ** int(odt[-1]) - 1


def _act_val(odt: str) -> int:
    """ActVal = the output type's minimum for signed outputs (FINN's MultiThreshold out_bias)."""
    return -(2 ** (int(odt[-1]) - 1)) if odt.startswith("INT") else 0


def mvau(rng, mw: int, mh: int, idt: str, vec=(1,), kind: str | None = None) -> NodeSpec:
    kind = kind or _pick(rng, ("xnor", "binary-weights", "quantized", "quantized"))
    if kind == "xnor":
        idt, wdt = "BIPOLAR", "BIPOLAR"
    elif kind == "binary-weights":
        wdt = "BIPOLAR"
    else:
        wdt = _pick(rng, WEIGHT_DTYPES[:3] + ("TERNARY",))
    no_act = int(rng.random() < 0.3)
    odt = "INT32" if no_act else _pick(rng, OUT_DTYPES)
    mem_mode = _pick(rng, ("internal_embedded", "internal_decoupled", "external"))
    attrs = dict(MW=mw, MH=mh, PE=_fold(rng, mh), SIMD=_fold(rng, mw), inputDataType=idt, weightDataType=wdt,
                 outputDataType=odt, noActivation=no_act, binaryXnorMode=int(kind == "xnor"),
                 accDataType=_pick(rng, ("INT32", "INT16", "INT24")), numInputVectors=list(vec),
                 mem_mode=mem_mode, ram_style=_pick(rng, ("auto", "block", "distributed", "ultra")),
                 ram_style_thresholds=_pick(rng, ("auto", "block", "distributed")),
                 resType=_pick(rng, ("auto", "lut", "dsp")), ActVal=0 if no_act else _act_val(odt))
    w = rng.choice([-1.0, 1.0], size=(mw, mh))
    inits = [w] if no_act else [w, np.sort(rng.integers(-8, 8, size=(mh, _steps(odt))), axis=1)]
    return NodeSpec("MVAU", attrs, inits)


def thresholding(rng, ch: int, idt: str, vec=(1,)) -> NodeSpec:
    odt = _pick(rng, ("UINT2", "UINT4", "BIPOLAR"))
    steps = _steps(odt)
    attrs = dict(NumChannels=ch, PE=_fold(rng, ch), numSteps=steps, inputDataType=idt,
                 weightDataType=_pick(rng, (idt, "INT16", "INT9")), outputDataType=odt,
                 numInputVectors=list(vec), ram_style=_pick(rng, ("distributed", "block")),
                 mem_mode=_pick(rng, ("internal_embedded", "internal_decoupled")), ActVal=0)
    thresholds = np.sort(rng.integers(-8, 8, size=(ch, steps)), axis=1)
    # both FINN kernels: the RTL one (FINN's default) and the HLS one, picked from the drawn values so that
    # the seeded stream of every later configuration stays what it was
    attrs["preferred_impl_style"] = ("hls", "rtl")[int(np.abs(thresholds).sum()) % 2]
    return NodeSpec("Thresholding", attrs, [thresholds])


def labelselect(rng, labels: int, idt: str) -> NodeSpec:
    return NodeSpec("LabelSelect", dict(Labels=labels, PE=_fold(rng, labels), K=int(rng.integers(1, min(labels, 5) + 1)),
                                        inputDataType=idt))


def dwc(rng, shape: list[int], dt: str) -> NodeSpec:
    bits = 1 if dt in ("BIPOLAR", "BINARY") else int(dt.lstrip("UINT"))
    ch = shape[-1]
    win, wout = (_fold(rng, ch, 128) * bits for _ in range(2))
    return NodeSpec("DWC", dict(shape=shape, inWidth=win, outWidth=wout, dataType=dt))


def fifo(rng, words: int, elems: int, dt: str) -> NodeSpec:
    depth = int(_pick(rng, (2, 16, 32, 33, 34, 64, 65, 200, 257, 258, 1000, 2028, 2029, 5000, 40000)))
    return NodeSpec("FIFO", dict(depth=depth, shape=[1, words, elems], dataType=dt,
                                 ram_style=_pick(rng, ("auto", "block", "distributed", "ultra"))))


def single_node_configs(rng, n: int) -> list[Config]:
    out = []
    makers = ("mvau", "mvau", "mvau", "thresholding", "labelselect", "dwc", "fifo")
    for i in range(n):
        kind, part = makers[i % len(makers)], _pick(rng, PARTS)
        idt = _pick(rng, QUANT_DTYPES)
        if kind == "mvau":
            spec = mvau(rng, int(_pick(rng, (4, 16, 27, 64, 576, 600, 784))),
                        int(_pick(rng, (1, 10, 16, 64, 128, 256))), idt,
                        vec=_pick(rng, ((1,), (1, 4, 4), (1, 30, 30))))
        elif kind == "thresholding":
            spec = thresholding(rng, int(_pick(rng, (1, 3, 16, 64, 128, 784))), idt,
                                vec=_pick(rng, ((1,), (1, 8, 8), (1, 32, 32))))
        elif kind == "labelselect":
            spec = labelselect(rng, int(_pick(rng, (2, 10, 64, 100))), _pick(rng, ("UINT8", "INT16", "UINT2")))
        elif kind == "dwc":
            spec = dwc(rng, _pick(rng, ([1, 64], [1, 8, 8, 32], [1, 600])), _pick(rng, ("UINT2", "UINT4", "BIPOLAR")))
        else:
            spec = fifo(rng, int(_pick(rng, (1, 16, 600))), int(_pick(rng, (1, 2, 3, 8, 16, 40, 64))),
                        _pick(rng, ("UINT2", "UINT4", "BIPOLAR", "INT8")))
        out.append(Config(f"{kind}_{i}", part, [spec]))
    return out


def mlp_config(rng, i: int) -> Config:
    """Thresholding → (MVAU, FIFO)×n → LabelSelect on a random width sequence."""
    widths = [int(_pick(rng, (64, 100, 128, 600, 784)))] + [int(_pick(rng, (16, 32, 64))) for _ in range(rng.integers(1, 4))] + [10]
    specs = [thresholding(rng, widths[0], "UINT8")]
    idt = specs[0].attrs["outputDataType"]
    for mw, mh in zip(widths, widths[1:]):
        spec = mvau(rng, mw, mh, idt, kind="quantized" if idt != "BIPOLAR" else None)
        if mh == 10:  # the classifier: raw accumulators into LabelSelect
            spec.attrs.update(noActivation=1, outputDataType="INT32")
            spec.inits = spec.inits[:1]
        specs.append(spec)
        idt = spec.attrs["outputDataType"]
        if mh != 10:
            specs.append(fifo(rng, mh // spec.attrs["PE"], spec.attrs["PE"], idt))
    specs.append(labelselect(rng, 10, "INT32"))
    return Config(f"mlp_{i}", _pick(rng, PARTS), specs)


def cnn_config(rng, i: int) -> Config:
    """The MVAU/Thresholding part of a conv stack: matrix layers over an H×W map (the SWG before
    each has no finn-plus HLS counterpart and is compared separately)."""
    dim = int(_pick(rng, (4, 8, 30)))
    ch = int(_pick(rng, (3, 16, 64)))
    specs = [thresholding(rng, ch, "UINT8", vec=(1, dim, dim))]
    idt = specs[0].attrs["outputDataType"]
    for _ in range(int(rng.integers(1, 3))):
        k = int(_pick(rng, (1, 3)))
        mh = int(_pick(rng, (16, 32, 64)))
        spec = mvau(rng, k * k * ch, mh, idt, vec=(1, dim, dim), kind="quantized" if idt != "BIPOLAR" else None)
        specs.append(spec)
        idt, ch = spec.attrs["outputDataType"], mh
        if idt == "INT32":
            break
    return Config(f"cnn_{i}", _pick(rng, PARTS), specs)


def swg_rtl(rng) -> NodeSpec:
    """A 2D SWG in finn-plus's RTL style: kernels 1..5 (1x1: FINN's "parallel" style), strides 1..3,
    depthwise or not, every ram_style; large channel counts at SIMD 1 reach the BRAM cascade (> 16384)."""
    ch, k = int(_pick(rng, (1, 3, 16, 64, 128))), int(_pick(rng, (1, 2, 3, 3, 4, 5)))
    ifm = int(_pick(rng, [d for d in (4, 5, 8, 12, 16, 30, 32, 64) if d >= k]))
    stride = int(_pick(rng, (1, 1, 2, 3)))
    dt = _pick(rng, QUANT_DTYPES)
    return NodeSpec("SWG", dict(ConvKernelDim=[k, k], IFMChannels=ch, IFMDim=[ifm, ifm],
                                OFMDim=[(ifm - k) // stride + 1] * 2, SIMD=int(_pick(rng, divisors(ch))),
                                Stride=[stride, stride], inputDataType=dt, outputDataType=dt,
                                depthwise=int(rng.random() < 0.3),
                                ram_style=_pick(rng, ("auto", "block", "distributed", "ultra")),
                                preferred_impl_style="rtl"))


def maxpool_rtl(rng) -> NodeSpec:
    """A k x k / stride k max-pool in finn-plus's style (a depthwise RTL SWG + Pool_hls)."""
    k = int(_pick(rng, (2, 2, 3, 4)))
    img = int(_pick(rng, [d for d in (4, 6, 8, 12, 16, 24, 28, 32) if d % k == 0]))
    ch = int(_pick(rng, (1, 3, 16, 64, 128)))
    return NodeSpec("StreamingMaxPool", dict(ImgDim=[img, img], PoolDim=[k, k], NumChannels=ch,
                                             dataType=_pick(rng, QUANT_DTYPES), preferred_impl_style="rtl"))


def window_configs(rng, swgs: int, pools: int) -> list[Config]:
    return ([Config(f"swg_rtl_{i}", _pick(rng, PARTS), [swg_rtl(rng)]) for i in range(swgs)]
            + [Config(f"maxpool_rtl_{i}", _pick(rng, PARTS), [maxpool_rtl(rng)]) for i in range(pools)])


def all_configs(seed: int = 19, singles: int = 210, mlps: int = 25, cnns: int = 25, swgs: int = 40,
                pools: int = 16) -> list[Config]:
    rng = np.random.default_rng(seed)
    return (single_node_configs(rng, singles) + [mlp_config(rng, i) for i in range(mlps)]
            + [cnn_config(rng, i) for i in range(cnns)]
            + window_configs(np.random.default_rng([seed, 1]), swgs, pools))
