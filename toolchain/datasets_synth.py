"""Synthetic data sets generated offline, seeded (docs/data.md): nothing is downloaded.

keywords-synthetic: a keyword-spotting-like time series. Each of 10 "keywords" is a template of three
formant-like bumps in a (channels × time) spectrogram -- 8 filterbank channels × 32 frames -- at
class-specific (channel, frame) positions; a sample is its class template shifted by up to ±6 frames,
scaled by 0.5..1.5, plus Gaussian noise (σ 0.35), clipped to [0, 1] (noisy enough that a small
network does not separate it perfectly). The layout is (8, 1, 32): a 1-D
signal as a 1×32 image with 8 channels, the form FINN's 1-D sliding window takes
(ConvolutionInputGenerator1D, IFMDim [1, W]).
"""

from __future__ import annotations

import numpy as np

KEYWORDS, CHANNELS, FRAMES = 10, 8, 32


def _templates(rng: np.random.Generator) -> np.ndarray:
    ch, t = np.arange(CHANNELS)[:, None], np.arange(FRAMES)[None, :]
    out = np.zeros((KEYWORDS, CHANNELS, FRAMES))
    for k in range(KEYWORDS):
        for _ in range(3):
            c0, t0 = rng.uniform(0, CHANNELS - 1), rng.uniform(6, FRAMES - 7)
            out[k] += np.exp(-((ch - c0) ** 2) / 2.0 - ((t - t0) ** 2) / 8.0)
    return out / out.max(axis=(1, 2), keepdims=True)


def keywords_synthetic(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, 8, 1, 32) float32 in [0, 1], y (n,) int64), balanced classes."""
    rng = np.random.default_rng(seed)
    templates = _templates(rng)
    y = np.arange(n) % KEYWORDS
    rng.shuffle(y)
    shifts = rng.integers(-6, 7, size=n)
    x = np.stack([np.roll(templates[c], s, axis=1) for c, s in zip(y, shifts)])
    x = x * rng.uniform(0.5, 1.5, size=(n, 1, 1)) + rng.normal(0.0, 0.35, size=x.shape)
    return np.clip(x, 0.0, 1.0).astype(np.float32)[:, :, None, :], y.astype(np.int64)
