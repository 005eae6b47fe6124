"""Your own data (toolchain.data.read_dataset_file, recipe `dataset: {name: file}`): .npz (x, y), .npy,
CSV with a label column (numbers or class names); bounded sizes, no pickle; a recipe trains on it."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from toolchain import data as data_mod
from toolchain.data import load_dataset, read_dataset_file
from toolchain.errors import UserError
from toolchain.zoo import ZOO_DIR, load_recipe


def test_npz_npy_and_csv(tmp_path):
    x = np.random.default_rng(0).standard_normal((12, 1, 2, 2)).astype(np.float32)
    y = np.arange(12) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    d = read_dataset_file(tmp_path / "d.npz")
    assert d.x.dtype == np.float32 and np.array_equal(d.x, x) and np.array_equal(d.y, y) and len(d) == 12
    np.save(tmp_path / "x.npy", x)
    assert read_dataset_file(tmp_path / "x.npy").y is None
    (tmp_path / "d.csv").write_text("a,b,kind\n0.5,1,'cat'\n-2,3.25,dog\n1e-3,0,cat\n")
    d = read_dataset_file(tmp_path / "d.csv", label="kind")
    assert np.array_equal(d.x, np.float32([[0.5, 1], [-2, 3.25], [1e-3, 0]])) and d.y.tolist() == [0, 1, 0]  # sorted names
    (tmp_path / "n.csv").write_text("label,f\n7,1\n2,2\n")
    assert read_dataset_file(tmp_path / "n.csv").y.tolist() == [7, 2]


@pytest.mark.parametrize("name, content, needle", [
    ("d.csv", "a,b\n1,2\n", "no label column 'label'"),
    ("d.csv", "a,label\n1,x\n2\n", "d.csv:3: 1 values, the header has 2"),
    ("d.csv", "a,label\nx,1\n", "a feature is not a number"),
    ("d.txt", "1,2\n", "data files are .npz"),
    ("d.npz", b"junk", "not a readable .npz"),
    ("d.npy", b"\x93NUMPY junk", "not a readable .npy"),
])
def test_bad_files_are_one_line_errors(tmp_path, name, content, needle):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    with pytest.raises(UserError, match=needle):
        read_dataset_file(path)


def test_npz_checks_and_bounds(tmp_path, monkeypatch):
    np.savez(tmp_path / "noy.npz", inputs=np.zeros((3, 2)))
    with pytest.raises(UserError, match="array named x"):
        read_dataset_file(tmp_path / "noy.npz")
    np.savez(tmp_path / "short.npz", x=np.zeros((3, 2)), y=np.zeros(2))
    with pytest.raises(UserError, match=r"y must have shape \(3,\)"):
        read_dataset_file(tmp_path / "short.npz")
    np.savez(tmp_path / "nan.npz", x=np.array([[np.nan, 1.0]]))
    with pytest.raises(UserError, match="NaN"):
        read_dataset_file(tmp_path / "nan.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(UserError):  # object arrays would need pickle: refused
        read_dataset_file(tmp_path / "obj.npz")
    np.savez(tmp_path / "big.npz", x=np.zeros((10, 10)))
    monkeypatch.setattr(data_mod, "MAX_DATA_VALUES", 50)
    with pytest.raises(UserError, match="more than the limit of 50"):
        read_dataset_file(tmp_path / "big.npz")
    monkeypatch.setattr(data_mod, "MAX_DATA_BYTES", 10)
    with pytest.raises(UserError, match="bytes, more than the limit"):
        read_dataset_file(tmp_path / "big.npz")


def _recipe(tmp_path, dataset: dict, input_shape) -> str:
    recipe = yaml.safe_load((ZOO_DIR / "digits-mlp.yaml").read_text())
    recipe["dataset"] = dataset
    recipe["architecture"]["input_shape"] = input_shape
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return str(path)


def test_a_recipe_reads_a_data_file(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.standard_normal((100, 4, 4)), y=rng.integers(0, 3, 100))
    split = load_dataset(load_recipe(_recipe(tmp_path, {"name": "file", "path": str(tmp_path / "d.npz")}, [16])))
    assert (len(split.x_train), len(split.x_test)) == (80, 20) and split.x_train.shape[1:] == (16,)
    assert sorted(set(split.y_test)) == [0, 1, 2]  # stratified
    with pytest.raises(UserError, match="needs 20"):
        load_dataset(load_recipe(_recipe(tmp_path, {"name": "file", "path": str(tmp_path / "d.npz")}, [20])))
    with pytest.raises(UserError, match="dataset name file needs a path"):
        load_recipe(_recipe(tmp_path, {"name": "file"}, [16]))
