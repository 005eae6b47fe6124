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


def test_python_api_estimate_takes_the_impl_option(tmp_path):
    """hil.estimate(..., impl="rtl") is `hil estimate --cost calibrated --impl rtl` (the rtl profile),
    impl="hls" (the default) the HLS profile; the two differ on this layer."""
    import hil
    from hw.ops.graph import NodeSpec, linear_model
    from toolchain.estimate import estimate

    model = linear_model([NodeSpec("FIFO", {"depth": 4, "shape": [1, 16, 2], "dataType": "UINT2"})], name="f")
    model.save(str(tmp_path / "f.onnx"))
    rtl_ = hil.estimate(str(tmp_path / "f.onnx"), cost="calibrated", impl="rtl")
    hls = hil.estimate(str(tmp_path / "f.onnx"), cost="calibrated")
    assert (rtl_.result["impl"], hls.result["impl"]) == ("rtl", "hls")
    assert rtl_.layers == estimate(model, cost="calibrated", impl="rtl")["layers"]
    assert rtl_.layers != hls.layers


def test_comparators_as_cmp2lcu_groups_them():
    # cmp2lcu.v (LUT_WIDTH 6): from the MSB, 6 cost units per group, 2 per bit of two non-constant
    # operands (the threshold is a memory read then), 1 where the input's bit is constant; 2 LUTs a group
    words = [0b0000101, 0b0110011, 0b0011110]  # one lane, one 7-bit threshold, 3 words (its MSB constant 0)
    # a 7-bit compare of an unsigned input (MSB 0): groups [6, 5, 4], [3, 2, 1], [0]: 3 -> a carry chain
    assert rtl.compare_luts(words, 1, 1, 7, 7, True) == (6.0, 0.0)
    # a 5-bit compare: groups [4, 3, 2], [1, 0]: 2 -> no carry chain, logic
    assert rtl.compare_luts([w & 0b11111 for w in words], 1, 1, 5, 5, True) == (0.0, 4.0)
    # two thresholds of one lane with the same bits: the same groups, merged
    twice = [w | (w << 7) for w in words]
    assert rtl.compare_luts(twice, 1, 2, 7, 7, True) == (6.0, 0.0)
    # thresholds T0 (words 0b1010000, 0b1010011) and T1 (0b1010001, 0b1010010) of one lane: their groups
    # [6, 5, 4] (constant bits, equal) and [3, 2, 1] (bit 1 the same column) merge, [0] does not: 4 groups
    pair = [0b1010000 | 0b1010001 << 7, 0b1010011 | 0b1010010 << 7]
    assert rtl.compare_luts(pair, 1, 2, 7, 7, True) == (8.0, 0.0)


def test_rom_columns_below_cell_pins_are_counted():
    # a ROM column: 64-word LUT6 leaves, joined by MUXF7/MUXF8 up to 256 words
    assert [rtl.rom_luts(d) for d in (2, 64, 256, 2048)] == [1.0, 1.0, 4.0, 43.0]
    # an MVAU whose products are DSPs: its weight ROM and x mux feed DSP A/B pins, counted, not fitted
    params = {"PE": 2, "SIMD": 2, "MW": 8, "MH": 4, "IBITS": 4, "WBITS": 4, "ACC_W": 12, "OBITS": 12,
              "XNOR": 0, "HAS_THR": 0, "NSTEPS": 1}
    wmem = [(0x1234 * (i + 1)) & 0xFFFF for i in range(4)]  # NF*SF = 2*2 words of 2*2*4 bits
    s = rtl.mvau(params, wmem, [])
    assert s.dsp == 4 and s.parts["rom"] == 0
    assert s.parts[rtl.DSP_PORT] == rtl.rom_columns(wmem, 16) * rtl.rom_luts(4) + 2 * 4  # + the x mux bits
