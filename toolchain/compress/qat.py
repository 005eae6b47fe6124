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


def fit(model: QuantNet, x: np.ndarray, y: np.ndarray, training: Training, bipolar_output: bool,
        callbacks: Sequence[TrainCallback] = (), epochs: int | None = None, lr: float | None = None,
        description: str = "training", progress: bool = True) -> None:
    from rich.progress import Progress

    epochs = epochs or training.epochs
    gen = torch.Generator().manual_seed(training.seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr or training.lr, weight_decay=training.weight_decay)
    steps_per_epoch = max(1, int(np.ceil(len(x) / training.batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    step = 0
    with one_thread(), Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(description, total=epochs)
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), training.batch_size):
                idx = perm[i:i + training.batch_size]
                opt.zero_grad()
                loss = loss_fn(model.logits(xt[idx]), yt[idx], bipolar_output)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                for cb in callbacks:
                    cb.on_step_end(model, step)
            for cb in callbacks:
                cb.on_epoch_end(model, epoch)
            bar.advance(task)
    model.eval()
