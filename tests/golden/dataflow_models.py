"""Dataflow graphs built by hand, for golden tests and the estimate benchmark.

* cybsec_mlp: the FINN cybersecurity MLP (notebooks/end2end_example/cybersecurity; folding tutorial
  notebooks/advanced/3_folding.ipynb @ 74918647c) as four MVAUs. Datatypes derived from the
  tutorial's printed stream widths and the LUT α check (docs/finn.md §5.2): MVAU_0 reads 1-bit
  BIPOLAR inputs (in-stream 1 bit at SIMD 1, 5 bits at SIMD 5; α = log2 600 + 2 + 1 − 1 − 1 needs a
  signed 1-bit type), INT2 weights (w = 2 bits per BRAM word), UINT2 activations (out-stream 2 bits
  at PE 1, 4 at PE 2; LUT 320 of MVAU_1 needs an unsigned input); the last layer thresholds to
  BIPOLAR (CybSecMLPForExport's binary output quantizer).
* cnv_w1a1: the BNN-PYNQ CNV topology (6 conv + 2 maxpool + 3 FC + top-1), 1-bit weights and
  activations, 8-bit input, folded as finn-examples build/bnn-pynq/folding_config/cnv-w1a1.json.
"""

from __future__ import annotations

import numpy as np

from hw.ops.graph import NodeSpec, linear_model


def _bipolar(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape).astype(np.float32)


def cybsec_mlp(seed: int = 0, folding: dict | None = None, dwc_after_0: tuple[int, int] | None = None):
    """The 600-64-64-64-1 MLP; `folding` {layer index: (PE, SIMD)}; `dwc_after_0` = (in, out) bits
    inserts a DWC between MVAU_0 and MVAU_1 (as FINN's InsertDWC)."""
    rng = np.random.default_rng(seed)
    folding = folding or {}
    dims = [(600, 64), (64, 64), (64, 64), (64, 1)]
    specs = []
    for i, (mw, mh) in enumerate(dims):
        pe, simd = folding.get(i, (1, 1))
        w = rng.integers(-2, 2, size=(mw, mh)).astype(np.float32)
        odt = "BIPOLAR" if i == 3 else "UINT2"
        steps = 1 if i == 3 else 3
        thr = np.sort(rng.integers(-40, 40, size=(mh, steps)), axis=1).astype(np.float32)
        specs.append(NodeSpec("MVAU", dict(MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType="BIPOLAR" if i == 0 else "UINT2",
                                           weightDataType="INT2", outputDataType=odt, ActVal=0,
                                           noActivation=0), [w, thr]))
        if i == 0 and dwc_after_0:
            specs.append(NodeSpec("DWC", dict(shape=[1, 64], inWidth=dwc_after_0[0], outWidth=dwc_after_0[1],
                                              dataType="UINT2")))
    return linear_model(specs, name="cybsec_mlp")


# (PE, SIMD) per MVAU and SIMD per SWG: finn-examples bnn-pynq/folding_config/cnv-w1a1.json
CNV_MVAU_FOLD = [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)]
CNV_SWG_SIMD = [3, 32, 32, 32, 32, 32]


def cnv_w1a1(seed: int = 0):
    rng = np.random.default_rng(seed)
    specs = []
    conv = [(3, 64, 32), (64, 64, 30), "pool", (64, 128, 14), (128, 128, 12), "pool", (128, 256, 5), (256, 256, 3)]
    m = s = 0
    dim = 32
    for layer in conv:
        if layer == "pool":
            specs.append(NodeSpec("StreamingMaxPool", dict(ImgDim=[dim, dim], PoolDim=[2, 2], NumChannels=ch_out,
                                                           dataType="BIPOLAR")))
            dim //= 2
            continue
        ch_in, ch_out, dim = layer
        idt = "UINT8" if m == 0 else "BIPOLAR"
        specs.append(NodeSpec("SWG", dict(ConvKernelDim=[3, 3], IFMChannels=ch_in, IFMDim=[dim, dim],
                                          OFMDim=[dim - 2, dim - 2], SIMD=CNV_SWG_SIMD[s], Stride=[1, 1],
                                          inputDataType=idt, outputDataType=idt, ram_style="block")))
        dim -= 2
        specs.append(_mvau(rng, 9 * ch_in, ch_out, m, [1, dim, dim], idt, xnor=m > 0))
        m, s = m + 1, s + 1
    for mw, mh in [(256, 512), (512, 512), (512, 10)]:
        specs.append(_mvau(rng, mw, mh, m, [1, 1, 1], "BIPOLAR", xnor=True, last=mh == 10))
        m += 1
    specs.append(NodeSpec("LabelSelect", dict(Labels=10, PE=1, K=1, inputDataType="UINT10",
                                              numInputVectors=[1, 1, 1])))
    return linear_model(specs, name="cnv_w1a1")


def _mvau(rng, mw, mh, index, vec, idt, xnor, last=False):
    pe, simd = CNV_MVAU_FOLD[index]
    attrs = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType=idt, numInputVectors=vec, binaryXnorMode=int(xnor),
                 weightDataType="BIPOLAR", outputDataType="UINT10" if last else "BIPOLAR", ActVal=0,
                 noActivation=int(last), mem_mode="internal_decoupled", ram_style="auto")
    inits = [_bipolar(rng, (mw, mh))]
    if not last:
        inits.append(rng.integers(0, mw, size=(mh, 1)).astype(np.float32))
    return NodeSpec("MVAU", attrs, inits)
