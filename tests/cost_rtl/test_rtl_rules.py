"""The Yosys 0.23 rules of the calibrated model's rtl profile (hw/cost/rtl.py), without Yosys: the
facts measured on hil_fifo and hil_mvau (tests/cost_rtl/test_rtl_profile.py checks whole layers)."""

from hw.cost import rtl


def test_rom_columns_fold_constants_and_merge_equal_columns():
    # bit 0 varies, bit 1 equals bit 0, bit 2 is constant 1, bit 3 is bit 0 inverted: two registers
    words = [0b1100, 0b0111, 0b0111, 0b1100]
    assert rtl.rom_columns(words, 4) == 2
    assert rtl.rom_columns([5, 5, 5], 3) == 0  # a constant ROM is no register at all


def test_memory_mapping_matches_what_yosys_did():
    # the 2-word queue: flip-flops up to 12 bits wide, RAM32M (6 bits each) from 16 bits on
    for width in (4, 8, 12):
        assert rtl.storage(2, width).lutram_cells == 0
        assert rtl.storage(2, width).ff == 2 * width + 1  # the words and the read-address copy
    for width, cells in ((16, 3), (18, 3), (20, 4), (24, 4), (48, 8)):
        assert rtl.storage(2, width).lutram_cells == cells and rtl.storage(2, width).ff == 1
    assert rtl.storage(4, 4).lutram_cells == 1  # a 4-deep 4-bit FIFO node: one RAM32M
    assert rtl.storage(64, 4).lutram_cells == 2  # ibuf[64] of 4 bits: two RAM64M (3 bits each)


def test_dsp_rule_of_mul2dsp():
    assert rtl.dsp_per_multiplier(3, 3) == 0  # UINT2 x INT2 decoded: a 6-bit product stays in LUTs
    assert rtl.dsp_per_multiplier(5, 5) == 1  # UINT4 x INT4: 10 bits, one DSP48E1
    assert rtl.dsp_per_multiplier(1, 9) == 0  # a 1-bit operand never
    assert rtl.dsp_per_multiplier(26, 18) == 2  # wider than 25 x 18: split


def test_impl_rtl_refusals():
    import pytest

    from hw.ops.graph import NodeSpec, linear_model
    from toolchain.errors import UserError
    from toolchain.estimate import estimate

    fifo = linear_model([NodeSpec("FIFO", {"depth": 4, "shape": [1, 16, 2], "dataType": "UINT2"})], name="f")
    assert estimate(fifo, cost="calibrated", impl="rtl")["layers"][0]["FF"] > 0
    with pytest.raises(UserError, match="--cost calibrated"):
        estimate(fifo, cost="finn", impl="rtl")
    pool = linear_model([NodeSpec("GlobalAccPool", {"NumChannels": 2, "PE": 1, "inputDataType": "UINT4",
                                                    "numInputVectors": [1, 4, 4]})], name="g")
    with pytest.raises(UserError, match="no rtl resource profile for GlobalAccPool"):  # not modelled yet: refused
        estimate(pool, cost="calibrated", impl="rtl")
