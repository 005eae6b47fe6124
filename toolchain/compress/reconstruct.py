"""Training of reconstruction networks (zoo Task.RECONSTRUCTION, e.g. conv-autoencoder): the target is
the input itself, the loss and the metric are the mean squared error per pixel (issue 15: an
autoencoder's metric is reconstruction MSE, not accuracy). Same optimizer and schedule as qat.fit
(Adam + cosine), same seeding; the float32 twin is trained the same way."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from toolchain.compress.qat import one_thread, predict
from toolchain.zoo import Recipe, Training


def fit_mse(model: nn.Module, x: np.ndarray, training: Training, epochs: int | None = None) -> None:
    epochs = epochs or training.epochs
    gen = torch.Generator().manual_seed(training.seed)
    opt = torch.optim.Adam(model.parameters(), lr=training.lr, weight_decay=training.weight_decay)
    steps = max(1, int(np.ceil(len(x) / training.batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
    xt = torch.from_numpy(x)
    with one_thread():
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), training.batch_size):
                batch = xt[perm[i:i + training.batch_size]]
                opt.zero_grad()
                loss = nn.functional.mse_loss(model.logits(batch), batch)
                loss.backward()
                opt.step()
                sched.step()
    model.eval()


def mse(model: nn.Module, x: np.ndarray) -> float:
    """Mean squared error per pixel of the reconstruction of x (float64 mean)."""
    out = predict(model, x)
    return float(np.mean((out.astype(np.float64) - x.reshape(out.shape).astype(np.float64)) ** 2))


def train_reconstruction(recipe: Recipe, split, float_baseline: bool = True):
    """(model, metrics) of a reconstruction recipe: QAT, then the float32 twin."""
    from toolchain.compress.calibrate import CalibrationConfig, calibrate_activations
    from toolchain.compress.checkpoint import seed_everything
    from toolchain.compress.model import build_model

    seed_everything(recipe.training.seed)
    model = build_model(recipe)
    calibrate_activations(model, split.x_train, CalibrationConfig(seed=recipe.training.seed))
    fit_mse(model, split.x_train, recipe.training)
    metrics = {"recipe": recipe.name, "task": "reconstruction", "metric": "mse",
               "weight_bits": recipe.quant.weight_bits, "act_bits": recipe.quant.act_bits, "seed": recipe.training.seed,
               "epochs": recipe.training.epochs, "mse": mse(model, split.x_test), "synthetic_data": split.synthetic}
    if float_baseline:
        seed_everything(recipe.training.seed)
        twin = build_model(recipe, quantized=False)
        fit_mse(twin, split.x_train, recipe.training)
        metrics["float_mse"] = mse(twin, split.x_test)
    return model, metrics
