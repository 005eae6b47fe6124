"""The Python API (`import hil`) and `hil export --module` on the README's example model
(examples/my_cnn.py: Brevitas defaults, float scales, BatchNorm), in-process and small: each function
returns its typed result, equals what its CLI verb prints, accepts every model form, and bad input is
one line, exit 2, nothing written. The README walkthrough itself runs in test_readme_your_own_model.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("brevitas")

import hil  # noqa: E402
from toolchain.errors import UserError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "my_cnn.py"
SHAPE = (1, 1, 8, 8)
N = 60


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`hil ARGS` in this process (toolchain.cli.main, as the console script runs it)."""
    from toolchain import cli as entry

    old = sys.argv
    sys.argv = ["hil", *args]
    try:
        entry.main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2 and "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def _model(x: np.ndarray):
    """MyCNN as training leaves it: forwards in train mode (Brevitas' activation scales are statistics
    of the first steps, part of the state_dict only after them), then eval."""
    from toolchain.export import load_module

    model = load_module(f"{EXAMPLE}:MyCNN")
    model.train()
    with torch.no_grad():
        for i in range(40):
            model(torch.from_numpy(x[(i % 6) * 10:(i % 6) * 10 + 10]))
    return model.eval()


class TinyMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn

        self.inp, self.fc1 = qnn.QuantIdentity(), qnn.QuantLinear(6, 8, bias=True)
        self.relu, self.fc2 = qnn.QuantReLU(bit_width=4), qnn.QuantLinear(8, 3, bias=True)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.inp(x))))


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    torch.manual_seed(0)
    x = np.random.default_rng(0).uniform(0, 1, size=(N, *SHAPE[1:])).astype(np.float32)
    model = _model(x)
    exported = hil.export(model, SHAPE, tmp / "m.onnx", x=x)
    design = hil.lower(exported, tmp / "df.onnx", x=x)
    torch.save(model.state_dict(), tmp / "w.pt")
    np.savez(tmp / "d.npz", x=x, y=np.arange(N) % 10)
    return tmp, model, x, exported, design


def test_export_and_lower_return_typed_verified_results(flow):
    tmp, _, x, exported, design = flow
    assert isinstance(exported, hil.Exported) and exported.path == tmp / "m.onnx" and exported.path.exists()
    assert exported.equality.samples == N and exported.equality.mismatches == 0
    assert exported.result["tolerance"] > 0  # float scales and BatchNorm: the stated tolerance, not bit-exact
    assert isinstance(design, hil.Design) and design.source == exported.path
    assert design.equality.samples == N and design.equality.mismatches == 0
    assert design.io.input_steps[-1]["op"] == "Quant"  # the input quantizer is a host step
    assert design.nodes["MVAU"] == 4  # conv1, conv2, fc1, fc2


def test_estimate_emulate_build_equal_their_cli_verbs(flow, capsys):
    tmp, _, x, _, design = flow
    est = hil.estimate(design, part="Pynq-Z2")
    assert isinstance(est, hil.Estimate) and est.fits and est.throughput_fps > 0
    assert [r["name"] for r in est.layers] == [n.name for n in design.model.graph.node]
    code, out, _ = cli(capsys, "estimate", str(design.path), "--part", "Pynq-Z2", "--json")
    assert code == 0 and json.loads(out) == json.loads(json.dumps(est.result, default=float))

    run = hil.emulate(design, x, frames=1)
    assert isinstance(run, hil.Emulation) and run.outputs.shape == (N, 10)
    assert run.equality.samples == N and run.equality.mismatches == 0
    np.save(tmp / "x.npy", x)
    code, out, _ = cli(capsys, "emulate", str(design.path), "--inputs", str(tmp / "x.npy"), "--frames", "1",
                       "-o", str(tmp / "y.npy"), "--json")
    assert code == 0 and json.loads(out)["equality"] == run.equality.to_json()
    assert np.array_equal(np.load(tmp / "y.npy"), run.outputs)

    pytest.importorskip("hls4ml")
    built = hil.build(design, "hls4ml", tmp / "prj")  # the FINN handoff: tests/api/test_host_steps_backends.py
    assert isinstance(built, hil.Build) and built.dir == tmp / "prj" and (tmp / "prj" / "host.py").exists()
    assert built.result["host_driver"] == {"steps": "host_steps.json", "driver": "host.py"}
    assert built.result["layers"] and built.result["csim"] is None


def test_lower_accepts_every_model_form(tmp_path):
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    torch.manual_seed(0)
    model = TinyMLP().eval()
    x = np.random.default_rng(1).standard_normal((20, 6)).astype(np.float32)
    from_module = hil.lower(model, tmp_path / "df.onnx", x=x, input_shape=(1, 6))  # exported first
    assert from_module.equality.mismatches == 0 and from_module.source == tmp_path / "df_source.onnx"
    for form in (str(from_module.source), onnx.load(from_module.source), ModelWrapper(str(from_module.source))):
        d = hil.lower(form, x=x)  # into a workspace folder that lives as long as the Design
        assert d.equality.samples == 20 and d.equality.mismatches == 0 and d.nodes == from_module.nodes
        assert d.path.exists()
    with pytest.raises(UserError, match="input_shape"):
        hil.lower(model)
    with pytest.raises(UserError, match="expected an nn.Module, onnx.ModelProto"):
        hil.lower(42)


def test_errors_name_the_users_module(flow):
    from toolchain.contract import user_module

    _, _, _, exported, _ = flow
    modules = {(n.op_type, user_module(n)) for n in exported.model.graph.node}
    assert {("Gemm", "fc2"), ("Gemm", "fc1"), ("Conv", "conv1"), ("Conv", "conv2"), ("Quant", "fc2"),
            ("Quant", "relu1"), ("Quant", "inp")} <= modules
    with pytest.raises(UserError, match=r"^Quant_\d+ \(Quant, module conv1\): weight scale .* not a power of two"):
        hil.lower(exported, x=np.zeros((2, 1, 8, 8), np.float32), strict=True)


def test_cli_export_module(flow, capsys):
    """--data as a CSV (64 pixel columns and a label, reshaped to the input shape), --calibrate on it."""
    tmp, _, x = flow[:3]
    rows = [",".join([*(f"{v:.6f}" for v in img.ravel()), str(i % 10)]) for i, img in enumerate(x)]
    (tmp / "d.csv").write_text(",".join([*(f"p{i}" for i in range(64)), "digit"]) + "\n" + "\n".join(rows) + "\n")
    out = tmp / "cli.onnx"
    code, stdout, err = cli(capsys, "export", "--module", f"{EXAMPLE}:MyCNN", "--weights", str(tmp / "w.pt"),
                            "--input-shape", "1,1,8,8", "--data", str(tmp / "d.csv"), "--label", "digit",
                            "--calibrate", "--samples", "30", "-o", str(out), "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["samples"] == 30 and result["mismatches"] == 0 and result["module"] == "MyCNN"
    assert result["input_shape"] == [1, 1, 8, 8] and out.exists()


def _bad_files(tmp: Path) -> dict[str, Path]:
    (tmp / "boom.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp / "other.py").write_text("import torch\n\nclass Other(torch.nn.Module):\n"
                                  "    def __init__(self):\n        super().__init__()\n"
                                  "        self.fc = torch.nn.Linear(3, 2)\n")
    torch.save({"fc.weight": torch.zeros(2, 3), "fc.bias": torch.zeros(2)}, tmp / "other.pt")
    torch.save({"step": 3, "note": "not tensors"}, tmp / "dict.pt")
    torch.save(torch.nn.Linear(2, 2), tmp / "pickled_module.pt")  # a whole pickled module: refused
    (tmp / "junk.pt").write_bytes(b"not a torch file")
    return {p.stem: p for p in tmp.iterdir()}


@pytest.mark.parametrize("args, needles", [
    (["--module", "nowhere.py:Net", "--input-shape", "1,1,8,8"], ["nowhere.py is not a Python file"]),
    (["--module", "EX:Nope", "--input-shape", "1,1,8,8"], ["has no class or function Nope", "MyCNN"]),
    (["--module", "EX", "--input-shape", "1,1,8,8"], ["--module must be FILE.py:NAME"]),
    (["--module", "BOOM:Net", "--input-shape", "1,1,8,8"], ["importing", "RuntimeError: boom at import"]),
    (["--module", "EX:MyCNN", "--input-shape", "1,3,8,8"], ["forward fails on input shape (1, 3, 8, 8)"]),
    (["--module", "EX:MyCNN", "--input-shape", "1,x,8"], ["integers separated by commas"]),
    (["--module", "EX:MyCNN", "--input-shape", "4,1,8,8"], ["batch dimension must be 1"]),
    (["--module", "EX:MyCNN", "--input-shape", "1,100000,100000"], ["values per sample"]),
    (["--module", "EX:MyCNN"], ["--module needs --input-shape"]),
    (["--module", "EX:MyCNN", "--input-shape", "1,1,8,8", "--weights", "OTHER_PT"], ["does not fit the model"]),
    (["--module", "EX:MyCNN", "--input-shape", "1,1,8,8", "--weights", "DICT_PT"], ["not a state_dict"]),
    (["--module", "EX:MyCNN", "--input-shape", "1,1,8,8", "--weights", "PICKLED_PT"], ["not a state_dict"]),
    (["--module", "EX:MyCNN", "--input-shape", "1,1,8,8", "--weights", "JUNK_PT"], ["not a state_dict"]),
    (["--module", "EX:MyCNN", "--input-shape", "1,1,8,8", "--data", "JUNK_PT"], ["data files are .npz"]),
    (["runs/x", "--module", "EX:MyCNN", "--input-shape", "1,1,8,8"], ["give no run folder"]),
])
def test_cli_export_module_errors(tmp_path, capsys, args, needles):
    files = _bad_files(tmp_path)
    names = {"EX": str(EXAMPLE), "BOOM": str(files["boom"]), "OTHER_PT": str(files["other"].with_suffix(".pt")),
             "DICT_PT": str(tmp_path / "dict.pt"), "PICKLED_PT": str(tmp_path / "pickled_module.pt"),
             "JUNK_PT": str(tmp_path / "junk.pt")}
    args = [next((a.replace(k, v, 1) for k, v in names.items() if a == k or a.startswith(k + ":")), a) for a in args]
    out = tmp_path / "out.onnx"
    code, _, err = cli(capsys, "export", *args, "-o", str(out))
    one_line_error(code, err, *needles)
    assert not out.exists()


def test_import_hil_is_cheap_and_explicit():
    code = ("import sys, hil; assert 'torch' not in sys.modules and 'toolchain.api' not in sys.modules; "
            "print(sorted(hil.__all__) == sorted(dir(hil))); hil.Design; print('toolchain.api' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]
    with pytest.raises(AttributeError):
        hil.lower_file  # noqa: B018 - internals are not the public surface
