"""The feature-map templates co-simulated with Verilator against the emulator on hand-built CNN
graphs: FMPadding -> SWG (stride 1: ConvolutionInputGenerator; stride 2 with k=3: the
_kernel_stride loop) -> MVAU over every output pixel (-> DWC -> StreamingMaxPool). Values
bit-equal, every handshake cycle and FIFO high-water mark equal."""

import numpy as np
import pytest

from hw.ops.graph import NodeSpec, linear_model
from toolchain.backends.rtl import build_rtl

rng = np.random.default_rng(11)


def cnn(stride: int):
    ofm = (8 - 3) // stride + 1
    w = rng.integers(-2, 2, size=(18, 4)).astype(np.float64)
    thr = np.sort(rng.integers(-10, 10, size=(4, 3)), axis=1).astype(np.float64)
    specs = [
        NodeSpec("FMPadding", {"ImgDim": [6, 6], "Padding": [1, 1, 1, 1], "NumChannels": 2, "SIMD": 1,
                               "inputDataType": "UINT4"}),
        NodeSpec("SWG", {"ConvKernelDim": [3, 3], "IFMChannels": 2, "IFMDim": [8, 8], "OFMDim": [ofm, ofm], "SIMD": 1,
                         "Stride": [stride, stride], "inputDataType": "UINT4", "outputDataType": "UINT4"}),
        NodeSpec("MVAU", {"MW": 18, "MH": 4, "PE": 2, "SIMD": 1, "inputDataType": "UINT4", "weightDataType": "INT2",
                          "outputDataType": "UINT2", "accDataType": "INT10", "numInputVectors": [1, ofm, ofm],
                          "mem_mode": "internal_decoupled"}, [w, thr]),
    ]
    if stride == 1:
        specs += [NodeSpec("DWC", {"shape": [1, ofm, ofm, 4], "inWidth": 4, "outWidth": 8, "dataType": "UINT2"}),
                  NodeSpec("StreamingMaxPool", {"ImgDim": [ofm, ofm], "PoolDim": [2, 2], "NumChannels": 4,
                                                "dataType": "UINT2"})]
    return linear_model(specs, name=f"cnn_s{stride}")


@pytest.mark.slow
@pytest.mark.parametrize("stride", [1, 2])
def test_cnn_templates_cosimulate_cycle_exact(stride, tmp_path):
    c = build_rtl(cnn(stride), tmp_path / "prj", cosim=100, seed=2)["cosim"]
    assert c["mismatches"] == 0, c["first_difference"]
    assert c["cycle_exact"] is True, c["first_difference"]
    assert c["fifo_high_water_equal"] is True
    assert not c["rtl_deadlock"] and c["rtl_cycles"] == c["emulator_cycles"]
