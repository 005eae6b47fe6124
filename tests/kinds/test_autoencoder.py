"""conv-autoencoder (issue 15): an encoder-decoder on digits with nearest-neighbour upsampling, trained
on reconstruction MSE; lowered to FMPadding/SWG/MVAU/StreamingMaxPool/Upsample, exact through the
chain (image outputs compared value by value); the upsampling is hls4ml's UpSampling2D, whose C-sim equals
the emulator (a non-integer factor is refused by name); the FINN handoff's folding round-trips."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from hw.ops.graph import NodeSpec, linear_model
from tests.kinds.chain import check_chain, check_finn_handoff, check_hls4ml_csim, run_chain
from toolchain.backends.plan import plan_hls4ml
from toolchain.backends.refusal import BackendRefusal
from toolchain.errors import UserError
from toolchain.onnxio import load_model
from toolchain.zoo import load_recipe

RECIPE = "conv-autoencoder"


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return run_chain(RECIPE, tmp_path_factory.mktemp("autoencoder"))


def test_autoencoder_lowers_exactly_and_outputs_images(chain):
    check_chain(chain)
    nodes = chain.lower["nodes"]
    assert nodes["Upsample"] == 1 and nodes["StreamingMaxPool"] == 1 and nodes["MVAU"] == 3
    assert nodes["FMPadding"] == 3  # every conv keeps the size ("same" padding)
    assert chain.lower["io"]["output_kind"] == "values"
    model = load_model(chain.dataflow)
    assert model.get_tensor_shape(model.graph.output[0].name) == [1, 8, 8, 1]  # NHWC image, as the input
    up = getCustomOp(next(n for n in model.graph.node if n.op_type == "Upsample"))
    assert (up.get_nodeattr("HI"), up.get_nodeattr("HO"), up.get_nodeattr("NumChannels")) == (4, 8, 8)
    rows = {r["name"]: r["cycles"] for r in chain.estimate["layers"]}
    assert rows["Upsample_0"] == 8 * 8 * 8  # upsampler.py get_exp_cycles: prod(folded_output_shape[:-1])


LAYERS = ["MVAU_0", "MaxPool_0", "MVAU_1", "Upsample_0", "FMPadding_2", "MVAU_2"]


def test_hls4ml_plans_the_upsampling_as_upsampling2d(chain):
    from toolchain.backends.hls4ml import hls4ml_config, HLSOptions

    plan = plan_hls4ml(load_model(chain.dataflow))
    _, layers = hls4ml_config(plan, chain.dir / "unused", HLSOptions())
    up = next(layer for layer in layers if layer["name"] == "Upsample_0")
    assert up["class_name"] == "UpSampling2D" and up["algorithm"] == "nearest"
    assert (up["in_height"], up["in_width"], up["out_height"], up["out_width"], up["n_chan"]) == (4, 4, 8, 8, 8)


def test_hls4ml_refuses_a_non_integer_upsampling_factor(tmp_path):
    """hls4ml's resize_nearest repeats each pixel HO/HI times (it asserts an integer factor); the IR's
    3 -> 5 picks rows 0, 0, 1, 1, 2: refused by name, before any file is written."""
    from toolchain.pipeline import build

    def model(ho):
        return linear_model([NodeSpec("Upsample", dict(SIMD=1, HI=3, WI=3, HO=ho, WO=ho, NumChannels=2,
                                                       inputDataType="UINT4"))])

    assert [type(layer).__name__ for layer in plan_hls4ml(model(6)).layers] == ["InputLayer", "ResizeLayer"]
    model(5).save(tmp_path / "up.onnx")
    with pytest.raises(BackendRefusal, match=r"Upsample_0: nearest-neighbour upsampling from 3x3 to 5x5 \(not an "
                                             r"integer factor.*upsample by integer factors \(e.g. to 6x6\)"):
        build(tmp_path / "up.onnx", "hls4ml", tmp_path / "prj")
    assert not (tmp_path / "prj").exists()


@pytest.mark.slow
def test_autoencoder_hls4ml_csim_is_exact(chain, tmp_path):
    result = check_hls4ml_csim(chain, tmp_path, 1000, LAYERS)
    assert [layer["kind"] for layer in result["layers"]].count("UpSampling2D") == 1
    firmware = (tmp_path / "hls4ml" / "firmware" / "myproject.cpp").read_text()
    assert "nnet::resize_nearest" in firmware


def test_autoencoder_finn_handoff_round_trips(chain, tmp_path):
    result = check_finn_handoff(chain, tmp_path)
    assert "UpsampleNearestNeighbour_hls_0" in result["finn_names"].values()


def test_upsample_schedule_reads_each_input_word_once_before_its_copies():
    model = linear_model([NodeSpec("Upsample", dict(SIMD=1, HI=3, WI=3, HO=6, WO=6, NumChannels=2,
                                                    inputDataType="UINT4"))])
    op = getCustomOp(model.graph.node[0])
    s = op.token_schedule()
    assert s.firings == op.cycles() == 6 * 6 * 2
    assert s.reads.sum() == 3 * 3 * 2 and s.writes.sum() == 6 * 6 * 2
    x = np.arange(18, dtype=np.float64).reshape(1, 3, 3, 2)
    out = op.execute([x])[0]
    assert np.array_equal(out, x.repeat(2, axis=1).repeat(2, axis=2))
    read_at = np.flatnonzero(s.reads[0])  # input word (iy, ix, c) in row-major order
    for f in range(s.firings):  # output word f copies input (oy // 2, ox // 2, c): read by then
        oy, rest = divmod(f, 12)
        ox, c = divmod(rest, 2)
        assert read_at[((oy // 2) * 3 + ox // 2) * 2 + c] <= f


def test_reconstruction_recipes_end_in_a_conv(tmp_path):
    assert load_recipe(RECIPE).architecture.task.value == "reconstruction"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndataset: {name: digits, images: true}\narchitecture: {input_shape: [1, 8, 8], "
                   "task: reconstruction, layers: [{type: conv, channels: 4, kernel: 3}, {type: dense, units: 10}]}\n")
    with pytest.raises(UserError, match="reconstruction network's last layer must be a conv"):
        load_recipe(str(bad))


@pytest.mark.slow
def test_trained_autoencoder_chain(tmp_path):
    from toolchain.train import train_recipe

    metrics = train_recipe(RECIPE, tmp_path / "run", epochs=5)
    assert metrics["metric"] == "mse" and 0 < metrics["mse"] < 0.1 and metrics["float_mse"] > 0
    chain = run_chain(RECIPE, tmp_path, run=tmp_path / "run", samples=1000)
    check_chain(chain)
    check_hls4ml_csim(chain, tmp_path, 1000, LAYERS)
