"""Bad input: one line naming the problem, exit 2, no traceback, nothing written."""

import pytest

from tests.conftest import run_cli


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_unknown_recipe(tmp_path):
    proc = run_cli("train", "no-such-net", "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, "unknown recipe", "no-such-net")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flag,bits", [("--weight-bits", "0"), ("--act-bits", "33")])
def test_bit_width_out_of_range(tmp_path, flag, bits):
    proc = run_cli("train", "digits-mlp", "--out", str(tmp_path / "run"), flag, bits)
    assert_one_line_error(proc, f"bit width {bits}")
    assert not (tmp_path / "run").exists()


def test_missing_recipe_file(tmp_path):
    proc = run_cli("train", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, "not found")


def test_export_of_a_missing_run(tmp_path):
    out = tmp_path / "model.onnx"
    proc = run_cli("export", str(tmp_path / "nothing"), "-o", str(out))
    assert_one_line_error(proc, "run folder not found")
    assert not out.exists()


def test_export_of_a_file_that_is_no_run(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    proc = run_cli("export", str(bogus), "-o", str(tmp_path / "model.onnx"))
    assert_one_line_error(proc, "run folder not found")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def run_without(module: str, *args: str):
    """`hil ARGS` in a subprocess where `module` cannot be imported (as if its extra were not installed)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (f"import sys; sys.modules[{module!r}] = None; sys.argv = ['hil', *{list(args)!r}]; "
            "from toolchain.cli import main; main()")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.parametrize("module, extra, args", [
    ("torch", "train", ("export", "digits-mlp", "--untrained", "-o", "{tmp}/model.onnx")),
    ("matplotlib", "plot", ("report", "{tmp}")),
])
def test_a_missing_extra_is_one_line_naming_the_install(tmp_path, module, extra, args):
    (tmp_path / "estimate.json").write_text(
        '{"part": "xc7z020clg400-1", "clock_ns": 10.0, "cost_model": "finn", "layers": [], "total": {}, '
        '"network": {"max_cycles": 1, "critical_path_cycles": 1, "estimated_throughput_fps": 1.0, '
        '"estimated_latency_ns": 10.0}, "utilization": {"LUT": 0.1}}')
    proc = run_without(module, *(a.format(tmp=tmp_path) for a in args))
    assert_one_line_error(proc, f"'{extra}' extra", f"pip install 'hil-toolchain[{extra}]'", module)
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "report.html").exists()


def test_an_unrelated_import_error_is_not_disguised():
    from toolchain.cli import missing_extra

    assert missing_extra(ModuleNotFoundError("No module named 'nosuchthing'", name="nosuchthing")) is None
    assert "hil-toolchain[hls]" in missing_extra(ModuleNotFoundError("No module named 'hls4ml'", name="hls4ml"))


def test_version():
    from toolchain import __version__

    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"hil {__version__}"
