"""FINN's resource formulas, each written once (docs/finn.md §3).

The `finn` cost model follows the maintained FINN, finn-plus 1.6.1 (src/finn/custom_op/fpgadataflow/,
src/finn/util/resource_models.py), checked node for node against FINN's own code by
tests/oracle/test_finn_cost_differential.py. Its MVAU, DWC and LabelSelect formulas are FINN v0.10's
unchanged (so the published v0.10 numbers of tests/golden still hold); Thresholding sizes its memory
by the threshold word (PE · threshold bits · numSteps) and the RTL FIFO is costed as fifo.sv. The HLS
SWG and StreamingMaxPool exist only in FINN v0.10: their formulas here are v0.10's, as is the Vivado
FIFO (impl_style="vivado"); finn-plus has the RTL SWG and Pool instead, costed below for the ops'
preferred_impl_style="rtl" (a max-pool is then FINN's depthwise RTL SWG + Pool_hls pair; a 1-D window
FINN's RTL SWG with is1D, swg_rtl_cycles_1d).

The ops call these with their own parameters; nothing here knows about ONNX nodes. Every function
cites the FINN file it reproduces. FINN has no FF estimate: FF is always 0 in this cost model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hw.cost import finn_fifo

# ---- memories -------------------------------------------------------------------------------


def bram18_sdp(width: int, depth: float) -> int:
    """RAMB18 count of a `width` x `depth` memory in SDP mode (UG573 Table 1-10), the piecewise
    table of FINN matrixvectoractivation.py:bram_estimation (also streamingfifo.py)."""
    if width == 1:
        return math.ceil(depth / 16384)
    if width == 2:
        return math.ceil(depth / 8192)
    if width <= 4:
        return math.ceil(depth / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(depth / 2048) * math.ceil(width / 9)
    if width <= 18 or depth > 512:
        return math.ceil(depth / 1024) * math.ceil(width / 18)
    return math.ceil(depth / 512) * math.ceil(width / 36)


def bram_efficiency(payload_bits: int, bram18: int) -> float:
    """FINN *_efficiency: payload / (BRAM18 count · 36·512); 1 when no BRAM is used."""
    return 1.0 if bram18 == 0 else payload_bits / (bram18 * 36 * 512)


def uram_efficiency(payload_bits: int, uram: int) -> float:
    return 1.0 if uram == 0 else payload_bits / (uram * 72 * 4096)


# ---- MVAU (matrixvectoractivation.py, hls/matrixvectoractivation_hls.py) -----------------------


def mvau_bram18(pe: int, simd: int, wbits: int, mw: int, mh: int, mem_mode: str, ram_style: str) -> int:
    wmem = mw * mh // (pe * simd)
    if (mem_mode == "internal_decoupled" and ram_style in ("distributed", "ultra")) or (
            mem_mode == "internal_embedded" and wmem <= 128) or mem_mode == "external":
        return 0
    return bram18_sdp(pe * simd * wbits, mw * mh / (pe * simd))


def mvau_uram(pe: int, simd: int, wbits: int, mw: int, mh: int, mem_mode: str, ram_style: str) -> int:
    wmem = mw * mh // (pe * simd)
    if (mem_mode == "internal_decoupled" and ram_style != "ultra") or (
            mem_mode == "internal_embedded" and wmem <= 128) or mem_mode == "external":
        return 0
    return math.ceil(pe * simd * wbits / 72) * math.ceil(wmem / 4096)


def mvau_acc_bits(mw: int, wbits: int, abits: int, input_signed: bool, acc_dtype_bits: int) -> int:
    """Accumulator width of the FINN LUT model: min(accDataType bits, bound of arXiv 2301.13376)."""
    alpha = math.log(mw, 2) + wbits + abits - 1 - int(input_signed)
    return int(min(acc_dtype_bits, math.ceil(alpha + math.log(1 + 2 ** -alpha, 2) + 1)))


def mvau_lut_hls(*, pe: int, simd: int, wbits: int, abits: int, mw: int, mh: int, input_signed: bool,
                 acc_dtype_bits: int, mem_mode: str, ram_style: str, res_type: str, no_activation: int,
                 ram_style_thresholds: str, out_bits: int) -> int:
    """hls/matrixvectoractivation_hls.py:lut_estimation (FINN-R model, after PR #717)."""
    wmem = mw * mh // (pe * simd)
    c2 = 0
    if (mem_mode == "internal_decoupled" and ram_style == "distributed") or (
            mem_mode == "internal_embedded" and wmem <= 128):
        c2 = pe * simd * wbits * math.ceil(wmem / 64)
    wa = wbits + abits
    mult = 0 if res_type == "dsp" else simd * (2 * math.ceil(wa / 6) - 1) * wa
    addertree = wa * (2 * simd - 1)
    acc = mvau_acc_bits(mw, wbits, abits, input_signed, acc_dtype_bits)
    thr = comp = 0
    if no_activation == 0 and ram_style_thresholds == "distributed":
        tmem = mh // pe
        thr = (2 ** out_bits - 1) * acc * math.ceil(tmem / 64)
        comp = (2 ** out_bits - 1) * acc
    return int(300 + 1.1 * (pe * (mult + addertree + acc + thr + comp)) + c2)


def mvau_dsp_hls(pe: int, simd: int, wbits: int, abits: int, res_type: str) -> int:
    """hls/matrixvectoractivation_hls.py:dsp_estimation."""
    return int(pe * simd * math.ceil((wbits + abits) / 48)) if res_type == "dsp" else 0


# ---- Thresholding (finn-plus hls/thresholding_hls.py) ------------------------------------------


def threshold_mem_width(pe: int, tbits: int, n_steps: int) -> int:
    """_threshold_mem_width: one memory word holds every threshold of PE channels."""
    return pe * tbits * n_steps


def thresholding_bram18_hls(mem_width: int, tmem: int, ram_style: str) -> int:
    if ram_style == "block" and tmem > 1:
        return math.ceil(mem_width / 16) * math.ceil(tmem / 1024)
    return 0


def thresholding_lut_hls(pe: int, abits: int, mem_width: int, tmem: int, ram_style: str) -> int:
    """Comparators (A·P, A the input bits) plus the LUTRAM of distributed thresholds."""
    lutram = mem_width * math.ceil(tmem / 64) if ram_style == "distributed" and tmem > 1 else 0
    return abits * pe + lutram


# finn-plus util/memutil.py:mem_primitives_versal, (width, depth) of each memory primitive, in its order
# (the order breaks ties between equally wasteful primitives: get_memutil_alternatives sorts stably)
MEM_PRIMITIVES = {"URAM_72x4096": (72, 4096), "URAM_36x8192": (36, 8192), "URAM_18x16384": (18, 16384),
                  "URAM_9x32768": (9, 32768), "BRAM18_36x512": (36, 512), "BRAM18_18x1024": (18, 1024),
                  "BRAM18_9x2048": (9, 2048), "LUTRAM": (1, 64)}


def least_waste_primitive(width: int, depth: float) -> tuple[str, int]:
    """util/memutil.py:get_memutil_alternatives(...)[0]: the primitive (and its count) wasting the fewest
    bits when `width` x `depth` is built from it (roundup of width and depth to the primitive's)."""
    def count(prim: tuple[int, int]) -> int:
        return math.ceil(width / prim[0]) * math.ceil(depth / prim[1])

    name = min(MEM_PRIMITIVES, key=lambda n: count(MEM_PRIMITIVES[n]) * math.prod(MEM_PRIMITIVES[n]) - width * depth)
    return name, count(MEM_PRIMITIVES[name])


def thresholding_rtl(pe: int, channels: int, tbits: int, obits: int) -> tuple[int, int, int]:
    """(LUT, BRAM18, URAM) of finn-plus rtl/thresholding_rtl.py (_get_memory_estimate_details with the
    default depth triggers 0 and non-uniform thresholds): per PE one memory per output bit x,
    tbits wide and C/PE·2^x deep, each built from its least-waste primitive; LUT is that LUTRAM only."""
    out = {"LUTRAM": 0, "BRAM": 0, "URAM": 0}
    for x in range(obits):
        name, n = least_waste_primitive(tbits, channels / pe * 2**x)
        out["BRAM" if name.startswith("BRAM") else name.split("_")[0]] += pe * n
    return out["LUTRAM"], out["BRAM"], out["URAM"]


def dsp_block(part: str) -> str:
    """finn-plus util/basic.py:get_dsp_block (is_versal: DSP58; a 7-series part: DSP48E1; else DSP48E2)."""
    versal = part[0:4] in ("xcvc", "xcve", "xcvp", "xcvm", "xqvc", "xqvm") or part[0:5] in ("xqrvc", "xcv80")
    return "DSP58" if versal else ("DSP48E1" if part[2:3] == "7" else "DSP48E2")


# util/basic.py:get_dsp_datapath_limits: (activation, weight, accumulator) widths of the DSP's B, A, P ports
DSP_DATAPATH = {"DSP58": (24, 27, 58), "DSP48E2": (18, 27, 48), "DSP48E1": (18, 25, 48)}


# ---- SWG (hls/convolutioninputgenerator_hls.py, 2D) -------------------------------------------


def swg_hls_2d(k: int, stride: int, ifm_dim: int, ifm_ch: int, simd: int, abits: int, ram_style: str):
    """(LUT, BRAM18, URAM) of the 2D HLS sliding-window generator (k + stride row buffers)."""
    ram_depth = ifm_dim * ifm_ch / simd
    lut, bram, uram = 300, 0, 0
    if ram_style in ("block", "auto"):
        ram_width = next((w for d, w in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2))
                          if ram_depth <= d), 1)
        width_mul = math.ceil(simd * abits / ram_width)
        depth_mul = math.ceil(ifm_dim * ifm_ch / simd / ram_depth)
        bram = int((k + stride) * width_mul * depth_mul)
    elif ram_style == "distributed":
        lut += int((k + stride) * (simd * abits * math.ceil(ifm_dim * ifm_ch / simd / 64)))
    elif ram_style == "ultra":
        uram = int((k + stride) * (math.ceil(simd * abits / 64) * math.ceil(ifm_dim * ifm_ch / simd / 4096)))
    return lut, bram, uram


# ---- SWG, RTL (finn-plus rtl/convolutioninputgenerator_rtl.py, 2D and 1D) -----------------------


def swg_rtl_style(k_h: int, k_w: int) -> str:
    """select_impl_style with parallel_window=0: "parallel" only for a 1x1 kernel, else "default"."""
    return "parallel" if (k_h, k_w) == (1, 1) else "default"


def swg_rtl_buffer_depth(k, ifm_w: int, stride, dilation, cf: int) -> int:
    """get_buffer_depth (M = 1, parallel_window = 0); `cf` = IFMChannels / SIMD."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = k, stride, dilation
    if swg_rtl_style(k_h, k_w) == "parallel":
        return ((k_h - 1) * d_h * ifm_w + (k_w - 1) * d_w) * cf + 2
    base = ((k_h - 1) * d_h * ifm_w + (k_w - 1) * d_w + 1) * cf
    return base + max(0, (s_w - 1 - k_h * k_w) * cf) + max(0, ((s_h - 1) * ifm_w - k_h * k_w) * cf)


def swg_rtl_cycles(k, ifm, ofm, stride, dilation, cf: int, depthwise: bool) -> int:
    """get_exp_cycles: a 1-D map (IFMDim [1, W] or [W, 1]) by its "1D case", else the 2D formula."""
    (k_h, k_w), (ifm_h, ifm_w), (ofm_h, ofm_w) = k, ifm, ofm
    (s_h, s_w), (d_h, d_w) = stride, dilation
    if swg_rtl_style(k_h, k_w) == "parallel":
        return ifm_h * ifm_w * cf + 2  # get_number_input_values() + 2
    if ifm_h == 1 or ifm_w == 1:
        return swg_rtl_cycles_1d(k, ifm, ofm, stride, cf, depthwise)
    buffer_min = ((k_h - 1) * d_h * ifm_w + (k_w - 1) * d_w + 1) * cf
    longest = max(ofm_w * k_w * k_h * cf, s_w * ifm_w * cf)  # write block vs read block
    if depthwise:
        longest += ofm_w * (s_w - 1) * (cf - 1)
    cycles = buffer_min + ofm_h * longest
    if depthwise:
        cycles += (s_h - 1) * ifm_w * cf
    return int(cycles)


def swg_rtl_cycles_1d(k, ifm, ofm, stride, cf: int, depthwise: bool) -> int:
    """get_exp_cycles, "1D case" of the default style (finn-plus 1.6.1 rtl/convolutioninputgenerator_rtl.py),
    on the attributes as get_1d_conv_attrs_normalized gives them ([W, 1] read as [1, W]): no line buffer
    to fill first, so OFMDim_w · k_w · CF + 2; a depthwise window replays each window once per channel
    fold, the slower of that output side and the input side (plus a refill stall per window when
    stride > 1)."""
    if ifm[1] == 1:  # get_1d_conv_attrs_normalized: the dummy dimension is the height
        k, ifm, ofm, stride = k[::-1], ifm[::-1], ofm[::-1], stride[::-1]
    k_w, ifm_w, ofm_w, s_w = k[1], ifm[1], ofm[1], stride[1]
    if not depthwise:
        return int(ofm_w * k_w * cf + 2)
    cycles_out = ofm_w * k_w * cf + (cf - 1) * k_w
    cycles_in = ifm_w * cf + cf * (k_w - 1) * (s_w - 1)
    return int(max(cycles_out, cycles_in) + 2)


def _ram_width(depth: int) -> int:
    return next((w for d, w in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2)) if depth <= d), 1)


def swg_rtl_resources(k, ifm, stride, dilation, simd: int, ifm_ch: int, abits: int, ram_style: str):
    """(LUT, BRAM18, URAM): lut_estimation, bram_estimation, uram_estimation; a 1-D window ([1, W]) takes
    the same formulas (its parallel style has k_h - 1 = 0 line buffers, FINN's "1D case" 0)."""
    (k_h, k_w), (_, ifm_w), (_, d_w) = k, ifm, dilation
    width, depth, count = simd * abits, swg_rtl_buffer_depth(k, ifm_w, stride, dilation, ifm_ch // simd), 1
    lut = 300 + (width * math.ceil(depth / 38) if ram_style == "distributed" else 0)
    if swg_rtl_style(k_h, k_w) == "parallel":  # line buffers of the parallel style (none for 1x1 in 2D)
        depth, count = (ifm_w - ((k_w - 1) * d_w + 1)) + ifm_w * (dilation[0] - 1), k_h - 1
    bram = uram = 0
    if ram_style in ("block", "auto"):
        cascade_w = math.ceil(width / _ram_width(depth))
        savings = cascade_w - math.ceil(width / _ram_width(depth % 16384)) if depth > 16384 else 0
        bram = int((math.ceil(depth / 16384) * cascade_w - savings) * count)
    elif ram_style == "ultra":
        uram = int(math.ceil(depth / 4096) * math.ceil(width / 72) * count)
    return lut, bram, uram


@dataclass(frozen=True)
class FinnLayer:
    """One FINN layer an op of ours becomes, where that is more than one (a max-pool in finn-plus: a
    depthwise ConvolutionInputGenerator_rtl and a Pool_hls). `op_type`: FINN's op type before
    specialization; `impl`: its preferred_impl_style; `config`: the attributes a FINN folding config
    sets on it; `cycles`/`resources` (LUT, BRAM18, URAM): FINN's estimate of it."""

    op_type: str
    impl: str
    config: dict
    cycles: int
    resources: tuple[int, int, int]


def pool_cycles(channels: int, pe: int, k_prod: int, out_pixels: int) -> int:
    """finn-plus pool.py:get_exp_cycles (BatchSize 1); Pool_hls has no resource estimate (all 0)."""
    return int(channels * k_prod / pe * out_pixels)


# ---- StreamingFIFO ----------------------------------------------------------------------------


def fifo_adjusted_depth(depth: int, impl_style: str) -> int:
    """Vivado FIFOs are rounded up to a power of two (FINN v0.10 streamingfifo.py:get_adjusted_depth)."""
    return 1 << (depth - 1).bit_length() if impl_style == "vivado" else depth


def fifo_resources_vivado(depth: int, width: int, ram_style: str):
    """(LUT, BRAM18, URAM) of a Vivado-IP FIFO (FINN v0.10 streamingfifo.py; finn-plus has no
    Vivado FIFO); `depth` already adjusted."""
    bram = bram18_sdp(width, depth) if ram_style == "block" else 0
    uram = math.ceil(depth / 4096) * math.ceil(width / 72) if ram_style == "ultra" else 0
    lut = 2 * math.ceil(math.log(depth, 2))
    if ram_style == "distributed":
        lut += math.ceil(depth / 32) * math.ceil(width / 2)
    return int(lut), bram, uram


def fifo_resources_rtl(depth: int, width: int, ram_style: str, versal: bool = False):
    """(LUT, BRAM18, URAM) of the RTL FIFO (finn-rtllib fifo.sv) as finn-plus 1.6.1 costs it:
    streamingfifo.py:get_fifo_cost = resource_models.py:_fifo_cost(depth, padded width,
    _resolve(depth, width, ram_style), versal). `width` is the stream width padded to bytes."""
    cost = finn_fifo.fifo_cost(depth, width, finn_fifo.resolve_style(depth, width, ram_style), versal)
    return cost.lut, cost.bram, cost.uram


# ---- StreamingDataWidthConverter (streamingdatawidthconverter.py:lut_estimation) ---------------


def dwc_lut(in_width: int, out_width: int) -> int:
    intw = math.lcm(in_width, out_width)
    cost = 0
    if in_width != intw:  # in -> intermediate: a ratio of in_width/intw < 1
        cost += abs(math.ceil(math.log(in_width / intw, 2))) + intw
    if intw != out_width:
        cost += abs(math.ceil(math.log(intw / out_width, 2))) + out_width
    return int(cost)


# ---- DSP block family (src/finn/util/basic.py:get_dsp_block) ----------------------------------


def dsp_block(part: str) -> str:
    if part.lower().startswith(("xcvc", "xcve", "xcvp", "xcvm", "xqvc", "xqvm", "xqrvc")):
        return "DSP58"
    if len(part) > 2 and part[2] == "7":
        return "DSP48E1"
    return "DSP48E2"


def is_versal(part: str) -> bool:
    """finn-plus src/finn/util/basic.py:is_versal."""
    return part[0:4] in ("xcvc", "xcve", "xcvp", "xcvm", "xqvc", "xqvm") or part[0:5] in ("xqrvc", "xcv80")
