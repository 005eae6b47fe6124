"""1-D convolutions: Im2Col over a 1×W signal -> SWG1D (FINN InferConvInpGen's is1D branch,
ConvolutionInputGenerator1D); the MatMul after it becomes an MVAU as for 2-D convolutions."""

from __future__ import annotations

from hw.ops.base import make_hw_node
from toolchain.passes.common import node_error


def swg1d_node(node, conv: str, idt, channels: int, w: int, ow: int, k, stride, dil, pads):
    """The SWG1D node replacing Im2Col `node` (kernel 1×k over (1, W, C)); stride 1, dilation 1 and no
    padding (the variant the op supports) or a refusal naming the conv."""
    if any(pads) or list(stride) != [1, 1] or list(dil) != [1, 1]:
        raise node_error(node, f"{conv}: a 1-D convolution needs stride 1, dilation 1 and no padding here "
                         f"(got stride {list(stride)}, dilation {list(dil)}, pads {list(pads)})")
    return make_hw_node("SWG1D", [node.input[0]], [node.output[0]], f"{conv}_swg", ConvKernelDim=list(k),
                        IFMChannels=channels, IFMDim=[1, w], OFMDim=[1, ow], SIMD=1, Stride=[1, 1],
                        Dilation=[1, 1], inputDataType=idt.name, outputDataType=idt.name)
