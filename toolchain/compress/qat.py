"""The training loop: Adam + cosine schedule, cross-entropy (or BCE for a bipolar output), rich progress.

Pruning methods plug in through `TrainCallback` hooks, so one loop serves QAT, quantization-aware
pruning and the layerwise channel-pruning schedule.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Protocol, Sequence

import numpy as np
import torch
from torch import nn

from toolchain.compress.model import QuantNet
from toolchain.zoo import Training


class TrainCallback(Protocol):
    def on_step_end(self, model: nn.Module, step: int) -> None: ...

    def on_epoch_end(self, model: nn.Module, epoch: int) -> None: ...


def loss_fn(logits: torch.Tensor, y: torch.Tensor, bipolar_output: bool) -> torch.Tensor:
    if bipolar_output:
        return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], y.float())
    return nn.functional.cross_entropy(logits, y)


def predict(model: QuantNet, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Model outputs in eval mode, as float32 numpy."""
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)])


def accuracy(outputs: np.ndarray, y: np.ndarray, bipolar_output: bool) -> float:
    pred = (outputs[:, 0] > 0).astype(np.int64) if bipolar_output else outputs.argmax(1)
    return float((pred == y).mean())


def evaluate(model: QuantNet, x: np.ndarray, y: np.ndarray, bipolar_output: bool) -> float:
    return accuracy(predict(model, x), y, bipolar_output)


@contextmanager
def one_thread():
    """Train on one thread: the zoo's layers are small, and two torch threads contending for two
    cores with anything else ran ten times slower than one (measured on the 2-core machines)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def hold_out(x: np.ndarray, y: np.ndarray, fraction: float = 0.1, seed: int = 0):
    """(x_train, y_train, x_val, y_val): a random `fraction` of the training set held out for early stopping."""
    idx = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(fraction * len(x))))
    return x[idx[n_val:]], y[idx[n_val:]], x[idx[:n_val]], y[idx[:n_val]]


class EarlyStopping:
    """Stop a `fit` when the held-out loss has not improved for `patience` epochs, and restore the best
    weights (Ps&Qs: pytorch-jet-classify training/early_stopping.py, patience 10). `history` records the
    epochs each fit ran."""

    def __init__(self, x_val: np.ndarray, y_val: np.ndarray, patience: int):
        self.x_val, self.y_val, self.patience = torch.from_numpy(x_val), torch.from_numpy(y_val), patience
        self.history: list[int] = []
        self.reset()

    def reset(self) -> None:
        self.best, self.best_state, self.bad = float("inf"), None, 0

    def should_stop(self, model: nn.Module, bipolar_output: bool) -> bool:
        model.eval()
        with torch.no_grad():
            loss = float(loss_fn(model.logits(self.x_val), self.y_val, bipolar_output))
        if loss < self.best:
            self.best, self.bad = loss, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad += 1
        return self.bad >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Σ|w| over the weights of every Linear/Conv layer (biases and quantizer scales excluded)."""
    return sum(m.weight.abs().sum() for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))


def fit(model: QuantNet, x: np.ndarray, y: np.ndarray, training: Training, bipolar_output: bool,
        callbacks: Sequence[TrainCallback] = (), epochs: int | None = None, lr: float | None = None,
        description: str = "training", progress: bool = True, l1: float = 0.0,
        stop: EarlyStopping | None = None) -> None:
    """Adam + cosine schedule over `epochs`; `l1` adds l1·Σ|w| to the loss; `stop` ends it early."""
    from rich.progress import Progress

    epochs = epochs or training.epochs
    gen = torch.Generator().manual_seed(training.seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr or training.lr, weight_decay=training.weight_decay)
    steps_per_epoch = max(1, int(np.ceil(len(x) / training.batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    step = 0
    if stop:
        stop.reset()
    ran = epochs
    with one_thread(), Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(description, total=epochs)
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), training.batch_size):
                idx = perm[i:i + training.batch_size]
                opt.zero_grad()
                loss = loss_fn(model.logits(xt[idx]), yt[idx], bipolar_output)
                if l1:
                    loss = loss + l1 * l1_penalty(model)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                for cb in callbacks:
                    cb.on_step_end(model, step)
            for cb in callbacks:
                cb.on_epoch_end(model, epoch)
            bar.advance(task)
            if stop and stop.should_stop(model, bipolar_output):
                ran = epoch + 1
                break
    if stop:
        stop.restore(model)  # the best weights satisfy the masks too: they were saved after a masked step
        stop.history.append(ran)
    model.eval()
