"""A user's own Brevitas CNN with the default quantizers, as the README's "Your own model" walks through it.

    python my_cnn.py --epochs 3     # trains on scikit-learn's digits (8x8 images), writes
                                    # my_cnn.pt (the state_dict), digits.npz (x, y) and x.npy (300 inputs)

Nothing here is hil-specific: Brevitas' defaults (Int8ActPerTensorFloat on the input,
Int8WeightPerTensorFloat weights with float scales, float biases, Uint8ActPerTensorFloat ReLUs), a
BatchNorm, named children (conv1, fc2, ...) that hil's error messages refer to.
"""

from __future__ import annotations

import argparse

import brevitas.nn as qnn
import numpy as np
import torch
from torch import nn


class MyCNN(nn.Module):
    """1x8x8 -> conv 3x3·8 -> BatchNorm -> ReLU -> max-pool 2 -> conv 3x3·16 -> ReLU -> fc 32 -> ReLU -> fc 10."""

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity()  # the input quantizer (8-bit, float scale)
        self.conv1 = qnn.QuantConv2d(1, 8, 3)  # bias=True, float bias
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = qnn.QuantReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = qnn.QuantConv2d(8, 16, 3)
        self.relu2 = qnn.QuantReLU()
        self.fc1 = qnn.QuantLinear(16, 32, bias=True)
        self.relu3 = qnn.QuantReLU()
        self.fc2 = qnn.QuantLinear(32, 10, bias=True)

    def forward(self, x):
        x = self.pool(self.relu1(self.bn1(self.conv1(self.inp(x)))))
        x = self.relu2(self.conv2(x))
        return self.fc2(self.relu3(self.fc1(torch.flatten(x, 1))))


HELD_OUT = 300  # the last images: not trained on, the verification data


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (N, 1, 8, 8) float32 in [0, 1] and int64 labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32)[:, None], d.target.astype(np.int64)


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xt)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    x, y = digits()
    torch.manual_seed(0)
    split = len(x) - HELD_OUT
    model = train(MyCNN(), x[:split], y[:split], args.epochs)
    with torch.no_grad():
        acc = (model(torch.from_numpy(x[split:])).argmax(1).numpy() == y[split:]).mean()
    torch.save(model.state_dict(), "my_cnn.pt")
    np.savez("digits.npz", x=x[split:], y=y[split:])
    np.save("x.npy", x[split:])
    print(f"held-out accuracy {acc:.3f}: wrote my_cnn.pt, digits.npz, x.npy")


if __name__ == "__main__":
    main()
