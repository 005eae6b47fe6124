import numpy as np
import pytest

from toolchain.data import JET_FEATURES, load_dataset, random_inputs, read_jet_hlf
from toolchain.errors import UserError
from toolchain.zoo import load_recipe


def test_digits_split_shapes_and_range():
    split = load_dataset(load_recipe("digits-mlp"))
    assert split.x_train.shape[1:] == (64,) and len(split.x_test) >= 500
    assert split.x_train.min() == 0.0 and split.x_train.max() == 1.0
    assert set(np.unique(split.y_test)) == set(range(10))


def test_digits_cnn_keeps_the_image_layout():
    split = load_dataset(load_recipe("digits-cnn"))
    assert split.x_train.shape[1:] == (1, 8, 8)


def test_jet_reader_reads_the_hlf_format(jet_hlf_file):
    x, y = read_jet_hlf(jet_hlf_file)
    assert x.shape == (600, len(JET_FEATURES)) and set(np.unique(y)) <= set(range(5))


def test_jet_reader_refuses_other_formats(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="missing columns"):
        read_jet_hlf(path)
    with pytest.raises(UserError, match="not found"):
        read_jet_hlf(tmp_path / "none.csv")


def test_jet_without_a_file_points_to_the_fix():
    with pytest.raises(UserError, match="dataset.path"):
        load_dataset(load_recipe("jet-mlp"))


def test_cifar_is_refused_not_downloaded():
    with pytest.raises(UserError, match="--untrained"):
        load_dataset(load_recipe("cnv-w1a1"))


def test_random_inputs_follow_the_input_kind():
    x = random_inputs(load_recipe("cybsec-mlp"), 10)
    assert x.shape == (10, 600) and set(np.unique(x)) <= {-1.0, 1.0}


def test_pixel_recipes_get_raw_pixels():
    pixels = load_dataset(load_recipe("tfc-w1a1"))  # architecture.input_kind: uint8
    unit = load_dataset(load_recipe("mnist-mlp"))  # same data set, float input in [0, 1]
    assert pixels.x_train.min() == 0.0 and pixels.x_train.max() == 255.0
    assert np.array_equal(pixels.x_test, np.round(pixels.x_test))
    assert unit.x_train.max() == 1.0
    np.testing.assert_array_equal(unit.x_test, (pixels.x_test.astype(np.float64) / 255.0).astype(np.float32))


def test_random_inputs_of_a_pixel_recipe_are_pixels():
    x = random_inputs(load_recipe("cnv-w1a1"), 4)
    assert x.shape == (4, 3, 32, 32) and x.min() >= 0 and x.max() <= 255 and np.array_equal(x, np.round(x))
