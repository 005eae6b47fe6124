"""Statistics-based calibration: power-of-two ranges from min/max or percentiles, and PTQ."""

import math

import numpy as np
import pytest
import torch

from toolchain.compress.calibrate import (CalibrationConfig, RangeStat, act_quantizers, calibrate_activations,
                                          post_training_quantize)
from toolchain.compress.channel_pruning import train_float
from toolchain.compress.model import build_model
from toolchain.compress.qat import evaluate, fit
from toolchain.data import load_dataset
from toolchain.errors import UserError
from toolchain.zoo import load_recipe, with_overrides


def _input_scale(model, x):
    model.eval()
    with torch.no_grad():
        return float(model.body[0](torch.from_numpy(x)).scale)


def test_minmax_sets_the_power_of_two_scale_of_the_extreme():
    recipe = load_recipe("digits-mlp")  # 8-bit signed input quantizer: scale = 2^ceil(log2 r) / 2^7
    model = build_model(recipe)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (300, 64)).astype(np.float32)
    x[17, 3] = -5.0  # a single extreme value sets the min/max range
    ranges = calibrate_activations(model, x, CalibrationConfig(method=RangeStat.MINMAX))
    assert list(ranges.values())[0] == 5.0
    assert _input_scale(model, x) == 2.0 ** math.ceil(math.log2(5.0)) / 2 ** 7


def test_percentile_ignores_outliers():
    recipe = load_recipe("digits-mlp")
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (512, 64)).astype(np.float32)
    x[0, 0] = 100.0
    model = build_model(recipe)
    calibrate_activations(model, x, CalibrationConfig(method=RangeStat.PERCENTILE, percentile=99.0, batch=512))
    assert _input_scale(model, x) == 1.0 / 2 ** 7  # |x| ≤ 1 for 99% of the values


def test_every_quantizer_is_calibrated_and_stays_put_in_training():
    recipe = load_recipe("digits-mlp")
    split = load_dataset(recipe)
    model = build_model(recipe)
    ranges = calibrate_activations(model, split.x_train)
    quantizers = act_quantizers(model)
    assert len(quantizers) == 3 and all(q.is_calibrated() for q in quantizers)  # input + two hidden ReLUs
    assert all(r > 0 for r in ranges.values())
    before = [float(q.scaling.value.detach()) for q in quantizers]
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(split.x_train[:64]))  # no statistics phase left to overwrite the ranges
    assert [float(q.scaling.value.detach()) for q in quantizers] == before
    state = model.state_dict()
    rebuilt = build_model(recipe)
    rebuilt.load_state_dict(state)
    assert all(q.is_calibrated() for q in act_quantizers(rebuilt))


def test_post_training_quantization_at_8_bits_keeps_float_accuracy():
    recipe = with_overrides(load_recipe("digits-mlp"), epochs=10, weight_bits=8, act_bits=8)
    split = load_dataset(recipe)
    float_model = train_float(recipe, split, progress=False)
    float_acc = evaluate(float_model, split.x_test, split.y_test, False)
    qmodel = post_training_quantize(float_model, recipe, split.x_train)
    assert evaluate(qmodel, split.x_test, split.y_test, False) >= float_acc - 0.01


def test_bad_calibration_settings_are_user_errors():
    with pytest.raises(UserError):
        CalibrationConfig(percentile=0.0)
    with pytest.raises(UserError):
        calibrate_activations(build_model(load_recipe("digits-mlp")), np.zeros((0, 64), np.float32))


def test_calibrated_init_trains_as_well_as_brevitas_warmup():
    recipe = with_overrides(load_recipe("digits-mlp"), epochs=8)
    split = load_dataset(recipe)
    torch.manual_seed(0)
    model = build_model(recipe)
    calibrate_activations(model, split.x_train)
    fit(model, split.x_train, split.y_train, recipe.training, False, progress=False)
    assert evaluate(model, split.x_test, split.y_test, False) >= 0.93
