"""The oracle's own contract: without finn-plus the FINN-oracle tests fail with the install command
(tests/oracle/conftest.py), and the adapter reads FINN's numbers, not ours."""

from __future__ import annotations

import importlib.metadata

import pytest
from onnx import helper

from tests.oracle.finn_flow import INSTALL, OPT_OUT, FinnUnavailable, estimate_node, require_finn


def test_missing_finn_names_the_install_command(monkeypatch):
    def absent(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", absent)
    with pytest.raises(FinnUnavailable) as err:
        require_finn()
    assert INSTALL in str(err.value) and OPT_OUT in str(err.value)


def test_installed_version_is_the_pinned_one():
    assert require_finn() == "1.6.1"


def test_estimate_node_runs_finns_code():
    # FINN's MVAU_hls.lut_estimation on the folding tutorial's MVAU_1 (64x64, PE=SIMD=1, INT2 weights,
    # UINT2 in/out), published as 320 LUTs / 1 BRAM_18K / 4096 cycles (notebooks/advanced/3_folding.ipynb)
    node = helper.make_node("MVAU_hls", ["x", "w", "t"], ["y"], name="MVAU_hls_1",
                            domain="finn.custom_op.fpgadataflow.hls", backend="fpgadataflow", MW=64, MH=64, PE=1,
                            SIMD=1, inputDataType="UINT2", weightDataType="INT2", outputDataType="UINT2",
                            accDataType="INT32", mem_mode="internal_decoupled", ram_style="auto",
                            ram_style_thresholds="auto", resType="auto")
    layer = estimate_node(node, "xc7z020clg400-1")
    assert (layer.cycles, layer.BRAM_18K, layer.LUT) == (4096, 1, 320)
