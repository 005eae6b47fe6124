"""Host steps applied identically by every backend (issue 9, item 3): a plain Brevitas export with
preprocessing before its input quantizer (2x - 1) and a per-channel output affine after its last layer
gives the same outputs, for the same raw inputs, through `hil emulate --inputs`, the hls4ml C-sim of
`hil build --csim` (g++, driven through the project's host steps) and the FINN handoff's model.onnx
(qonnx execute_onnx, fed by the handoff's host.pre); and each project's host.py, imported from the
project folder, computes what toolchain/hoststeps.py computes."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")

from toolchain.onnxio import load_model, run_qonnx  # noqa: E402

N = 200


class PreAffineMLP(torch.nn.Module):
    """Brevitas defaults (float scales and biases); preprocessing before the input quantizer and a
    float per-channel scale and bias after the classifier."""

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity()
        self.fc1 = qnn.QuantLinear(8, 16, bias=True)
        self.relu = qnn.QuantReLU(bit_width=4)
        self.fc2 = qnn.QuantLinear(16, 4, bias=True)
        self.register_buffer("out_scale", torch.tensor([0.5, 2.0, 1.25, 0.75]))
        self.register_buffer("out_bias", torch.tensor([0.25, -1.0, 0.0, 3.0]))

    def forward(self, x):
        y = self.fc2(self.relu(self.fc1(self.inp(2.0 * x - 1.0))))
        return y * self.out_scale + self.out_bias


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules.pop(name, None)
    return mod


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    from brevitas.export import export_qonnx

    from toolchain.compress.brevitas_export import quiet
    from toolchain.lower import lower_file

    tmp = tmp_path_factory.mktemp("hoststeps")
    torch.manual_seed(0)
    model = PreAffineMLP().eval()
    with quiet():
        export_qonnx(model, torch.rand(1, 8), export_path=str(tmp / "src.onnx"))  # the plain export call
    x = np.random.default_rng(3).uniform(0, 1, size=(N, 8)).astype(np.float32)
    result = lower_file(tmp / "src.onnx", tmp / "df.onnx", inputs=x)
    assert result["mismatches"] == 0
    ops = [s["op"] for s in result["io"]["input_steps"]]
    assert ops[-1] == "Quant" and {"Mul", "Sub"} <= set(ops)  # 2x - 1 is a host step, not hardware
    assert {s["op"] for s in result["io"]["output_steps"]} >= {"Mul", "Add"}  # so is the output affine
    np.save(tmp / "x.npy", x)
    return tmp, x


def _source_outputs(tmp, x):
    from toolchain.passes.cleanup import import_cleanup

    return run_qonnx(import_cleanup(load_model(tmp / "src.onnx")), x)


def test_emulate_csim_and_finn_give_the_same_outputs(design):
    from toolchain.backends.finn import finn_ready_qonnx, handoff_host_steps
    from toolchain.backends.hls4ml import CSIM_OUTPUTS, build_hls4ml
    from toolchain.contract import read_io
    from toolchain.emulate import emulate
    from toolchain.equality import compare
    from toolchain.hoststeps import to_stream
    from toolchain.passes.cleanup import import_cleanup

    tmp, x = design
    y_src = _source_outputs(tmp, x)

    emulated = emulate(tmp / "df.onnx", inputs=tmp / "x.npy", frames=1, output=tmp / "y_emu.npy")
    assert emulated["equality"]["mismatches"] == 0
    y_emu = np.load(tmp / "y_emu.npy")

    built = build_hls4ml(load_model(tmp / "df.onnx"), tmp / "prj", csim=N, source=str(tmp / "df.onnx"), inputs=x)
    csim = built["csim"]
    assert csim["host_steps"] and csim["mismatches"] == 0 and set(csim["per_layer"].values()) == {0}
    assert csim["source"]["samples"] == N and csim["source"]["mismatches"] == 0
    y_csim = np.load(tmp / "prj" / CSIM_OUTPUTS)
    assert np.array_equal(y_csim, y_emu)  # C-sim decoded through the host steps == emulator, bit for bit

    qonnx = finn_ready_qonnx(import_cleanup(load_model(tmp / "src.onnx")))
    y_finn = run_qonnx(qonnx, to_stream(handoff_host_steps(qonnx), x).astype(np.float32))
    assert np.array_equal(y_finn, y_src)  # the FINN model fed by the host steps computes the source's floats
    # the design's decoded outputs against the same numbers: the one definition of equal
    same = compare(y_emu, y_finn, tolerance=read_io(load_model(tmp / "df.onnx")).output_tolerance(y_finn))
    assert same.mismatches == 0 and same.label_agreement == 1.0


def test_generated_host_drivers_compute_what_hoststeps_computes(design):
    from toolchain.contract import read_io
    from toolchain.hoststeps import apply_output_steps
    from toolchain.inputs import stream_inputs
    from toolchain.passes.cleanup import import_cleanup
    from toolchain.pipeline import build

    tmp, x = design
    df = load_model(tmp / "df.onnx")
    src = import_cleanup(load_model(tmp / "src.onnx"))
    prj = tmp / "prj"
    if not (prj / "host.py").exists():  # the other test builds it with the C-sim; here without
        build(tmp / "df.onnx", "hls4ml", prj)
    host = _import(prj / "host.py", "hil_test_host_hls4ml")
    x_int = host.pre(x)
    assert np.array_equal(x_int, stream_inputs(src, df, x))  # what emulate and lower feed the design
    y_int = np.random.default_rng(0).integers(-50, 50, size=(N, 4)).astype(np.float64)
    assert np.array_equal(host.post(y_int), apply_output_steps(read_io(df).output_steps, y_int))

    build(tmp / "df.onnx", "finn", tmp / "finn")
    finn_host = _import(tmp / "finn" / "host.py", "hil_test_host_finn")
    model = load_model(tmp / "finn" / "model.onnx")
    assert np.array_equal(run_qonnx(model, finn_host.pre(x).astype(np.float32)), _source_outputs(tmp, x))
    assert np.array_equal(finn_host.post(y_int), y_int)  # model.onnx keeps the output ops itself
    readme = (tmp / "finn" / "README.md").read_text()
    assert "host.pre(x)" in readme and "## Host steps" in readme
