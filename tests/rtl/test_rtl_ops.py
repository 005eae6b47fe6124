"""Every RTL template co-simulated with Verilator against the emulator on hand-built graphs: values
bit-equal, every handshake cycle of every edge equal to the timing engine's (rtl profile), FIFO
high-water marks equal. Covers MVAU (PE x SIMD folded, multi-bit with thresholds, XNOR, bipolar
input without activation), Thresholding (multi-bit and BIPOLAR), DWC (widening and narrowing),
FIFO (depth 3 and 2) and LabelSelect (top-3 with ties)."""

import numpy as np
import pytest

from hw.ops.graph import NodeSpec, linear_model
from toolchain.backends.rtl import build_rtl
from toolchain.errors import UserError

rng = np.random.default_rng(7)


def thresholds(rows: int, steps: int, lo: int, hi: int) -> np.ndarray:
    return np.sort(rng.integers(lo, hi, size=(rows, steps)), axis=1).astype(np.float64)


def multibit_graph():
    """Thresholding UINT8 -> UINT2 (PE 4) -> FIFO(3) -> DWC 8->16 -> MVAU INT3 weights, 4 thresholds
    (PE 3, SIMD 8) -> DWC 9->3 -> LabelSelect top-3."""
    w = rng.integers(-4, 4, size=(16, 12)).astype(np.float64)
    return linear_model([
        NodeSpec("Thresholding", {"NumChannels": 16, "PE": 4, "numSteps": 3, "inputDataType": "UINT8",
                                  "weightDataType": "UINT8", "outputDataType": "UINT2"},
                 [thresholds(16, 3, 0, 256)]),
        NodeSpec("FIFO", {"depth": 3, "shape": [1, 4, 8], "dataType": "UINT2"}),
        NodeSpec("DWC", {"shape": [1, 16], "inWidth": 8, "outWidth": 16, "dataType": "UINT2"}),
        NodeSpec("MVAU", {"MW": 16, "MH": 12, "PE": 3, "SIMD": 8, "inputDataType": "UINT2", "weightDataType": "INT3",
                          "outputDataType": "UINT3", "accDataType": "INT9", "numSteps": 4,
                          "mem_mode": "internal_decoupled"},
                 [w, thresholds(12, 4, -20, 20)]),
        NodeSpec("DWC", {"shape": [1, 12], "inWidth": 9, "outWidth": 3, "dataType": "UINT3"}),
        NodeSpec("LabelSelect", {"Labels": 12, "PE": 1, "K": 3, "inputDataType": "UINT3"}),
    ], name="multibit")


def binary_graph():
    """Thresholding UINT8 -> BIPOLAR (PE 2) -> DWC 2->4 -> XNOR MVAU with thresholds (PE 2, SIMD 4) -> DWC 2->4 ->
    MVAU bipolar input x INT2 weights, no activation (PE 4, SIMD 4)."""
    wb = rng.choice([-1.0, 1.0], size=(32, 8))
    w2 = rng.integers(-2, 2, size=(8, 4)).astype(np.float64)
    return linear_model([
        NodeSpec("Thresholding", {"NumChannels": 32, "PE": 2, "numSteps": 1, "inputDataType": "UINT8",
                                  "weightDataType": "UINT8", "outputDataType": "BIPOLAR"},
                 [thresholds(32, 1, 0, 256)]),
        NodeSpec("DWC", {"shape": [1, 32], "inWidth": 2, "outWidth": 4, "dataType": "BIPOLAR"}),
        NodeSpec("MVAU", {"MW": 32, "MH": 8, "PE": 2, "SIMD": 4, "inputDataType": "BIPOLAR",
                          "weightDataType": "BIPOLAR", "outputDataType": "BIPOLAR", "accDataType": "UINT6",
                          "binaryXnorMode": 1, "mem_mode": "internal_decoupled"},
                 [wb, thresholds(8, 1, 8, 24)]),
        NodeSpec("DWC", {"shape": [1, 8], "inWidth": 2, "outWidth": 4, "dataType": "BIPOLAR"}),
        NodeSpec("MVAU", {"MW": 8, "MH": 4, "PE": 4, "SIMD": 4, "inputDataType": "BIPOLAR", "weightDataType": "INT2",
                          "outputDataType": "INT6", "accDataType": "INT6", "noActivation": 1,
                          "mem_mode": "internal_embedded"},
                 [w2]),
    ], name="binary")


def ratio_graph():
    """Thresholding UINT8 -> UINT2 (PE 4: 8 bits) -> FIFO(3) -> DWC 8->12 (widening by 3/2) -> MVAU INT2
    weights, 4 thresholds (PE 3, SIMD 6: 12 -> 9 bits) -> DWC 9->6 (narrowing by 3/2) -> LabelSelect
    (PE 2) top-2: the non-integer width ratios of the generalized converter."""
    w = rng.integers(-2, 2, size=(12, 6)).astype(np.float64)
    return linear_model([
        NodeSpec("Thresholding", {"NumChannels": 12, "PE": 4, "numSteps": 3, "inputDataType": "UINT8",
                                  "weightDataType": "UINT8", "outputDataType": "UINT2"},
                 [thresholds(12, 3, 0, 256)]),
        NodeSpec("FIFO", {"depth": 3, "shape": [1, 3, 4], "dataType": "UINT2"}),
        NodeSpec("DWC", {"shape": [1, 12], "inWidth": 8, "outWidth": 12, "dataType": "UINT2"}),
        NodeSpec("MVAU", {"MW": 12, "MH": 6, "PE": 3, "SIMD": 6, "inputDataType": "UINT2", "weightDataType": "INT2",
                          "outputDataType": "UINT3", "accDataType": "INT8", "numSteps": 4,
                          "mem_mode": "internal_decoupled"},
                 [w, thresholds(6, 4, -12, 12)]),
        NodeSpec("DWC", {"shape": [1, 6], "inWidth": 9, "outWidth": 6, "dataType": "UINT3"}),
        NodeSpec("LabelSelect", {"Labels": 6, "PE": 2, "K": 2, "inputDataType": "UINT3"}),
    ], name="ratios")


# one Verilator build in CI's suite (thresholds, FIFO, DWCs at non-integer ratios both ways, folded
# multi-bit MVAU with thresholds, LabelSelect); the multi-bit (integer-ratio) and binary/XNOR designs
# and the whole-zoo co-simulations run with `make test-all`
@pytest.mark.parametrize("make", [ratio_graph, pytest.param(multibit_graph, marks=pytest.mark.slow),
                                  pytest.param(binary_graph, marks=pytest.mark.slow)])
def test_templates_cosimulate_cycle_exact(make, tmp_path):
    cosim = build_rtl(make(), tmp_path / "prj", cosim=300, seed=1)["cosim"]
    assert cosim["mismatches"] == 0
    assert cosim["first_difference"] is None
    assert cosim["cycle_exact"] is True
    assert cosim["fifo_high_water_equal"] is True
    assert not cosim["rtl_deadlock"] and not cosim["emulator_deadlock"]
    assert cosim["rtl_cycles"] == cosim["emulator_cycles"]
    # every edge moved every word: words per frame x samples, as the emulator counts them
    assert all(e["words"] > 0 and e["cycle_exact"] for e in cosim["edges"])


def test_project_files_and_fifo_depths(tmp_path):
    result = build_rtl(multibit_graph(), tmp_path / "prj")
    prj = tmp_path / "prj"
    assert (prj / "hil_top.sv").exists() and (prj / "README.md").exists()
    assert set(result["sources"]) >= {"hil_pkg.sv", "hil_fifo.sv", "hil_mvau.sv", "hil_thresholding.sv",
                                      "hil_dwc.sv", "hil_labelselect.sv", "hil_top.sv"}
    depths = {e["name"]: e["depth"] for e in result["edges"]}
    assert depths["FIFO_0"] == 3  # the FIFO node's depth is its edge's hil_fifo DEPTH
    top = (prj / "hil_top.sv").read_text()
    assert ".DEPTH(3)" in top
    # MVAU_0 weights: NF*SF = 4*2 words of PE*SIMD*3 = 72 bits (18 hex digits)
    lines = (prj / "MVAU_0_weights.mem").read_text().split()
    assert len(lines) == 8 and all(len(x) == 18 for x in lines)


def test_missing_verilator_refuses_before_writing(tmp_path, monkeypatch):
    import toolchain.backends.rtl_cosim as cosim

    monkeypatch.setattr(cosim, "verilator_command", lambda: None)
    with pytest.raises(UserError, match="verilator"):
        build_rtl(binary_graph(), tmp_path / "prj", cosim=10)
    assert not (tmp_path / "prj").exists()
