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
