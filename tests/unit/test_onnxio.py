import pytest

from toolchain.errors import UserError
from toolchain.onnxio import load_model


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        load_model(tmp_path / "none.onnx")


def test_text_file_is_not_onnx(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_text("this is not a protobuf\n")
    with pytest.raises(UserError, match="not an ONNX model"):
        load_model(path)


def test_folder_is_refused(tmp_path):
    with pytest.raises(UserError, match="folder"):
        load_model(tmp_path)
