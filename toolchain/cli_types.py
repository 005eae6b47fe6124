"""The CLI's one input-validation layer: typed options, checked before a verb does anything.

Every value a user types is converted here, by typer parsers, so a bad one is a usage error
(one line `error: ...`, exit 2, nothing written) before any work starts:

* choices are Enums (listed in --help);
* floats are finite and positive (`nan`, `inf`, `-1` refused);
* integers are bounded (a count of samples or frames up to a sane maximum; the memory each would
  take is checked again where it is allocated, toolchain/limits.py);
* input files exist, are files (not folders) and readable;
* output locations are not folders (or files, for folder outputs), lie under a folder (not a
  file), are writable, and are none of the verb's inputs (`distinct_outputs`).
"""

from __future__ import annotations

import math
import os
import tempfile
from enum import Enum
from pathlib import Path
from typing import Iterable, Optional

from typer import BadParameter

from hw.cost.resources import CostModel
from toolchain.errors import UserError

# Each type below is a typer `parser`: a callable from the typed text to the value, raising
# BadParameter (typer reports it as a usage error naming the option). typer >= 0.20 vendors its own
# click and validates through pydantic, so these are plain callables, not click.ParamType classes.


# choices defined where their meaning is (one definition): the cost models (a str Enum); the backends'
# Enum is built in toolchain/cli.py (this module sits below the stages and imports none of them)
Cost = CostModel


class Impl(str, Enum):
    HLS = "hls"
    RTL = "rtl"


class Rounding(str, Enum):
    EXACT = "exact"
    FINN = "finn"


class HlsBackend(str, Enum):
    VITIS = "Vitis"
    VIVADO = "Vivado"


# bounds of counts typed by a user: far above any real use, far below an allocation that could not
# succeed; the memory an allowed value would take is checked where it is allocated (limits.py)
MAX_SAMPLES = 10**8
MAX_FRAMES = 10**6
MAX_SEED = 2**32 - 1  # numpy's legacy seeding (np.random.seed) takes 32-bit seeds
MAX_EPOCHS = 10**5
MAX_DMA_BITS = 8192  # AXI data widths top out at 1024 bits; 8 times that is no real bus
MAX_WORKERS = 1024


class Count:
    """An integer in low..high (written as digits: `1e9` is not a count)."""

    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def __call__(self, value) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                raise BadParameter(f"{value!r} is not an integer") from None
        if not self.low <= number <= self.high:
            raise BadParameter(f"{value} is outside {self.low}..{self.high:,}")
        return number


def count(low: int, high: int) -> Count:
    return Count(low, high)


def positive_float(value) -> float:
    """A finite float > 0 (a clock period, a frame rate): nan, inf, 0 and negatives are refused."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadParameter(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise BadParameter(f"{value!r} is not a finite number")
    if number <= 0:
        raise BadParameter(f"{value!r} must be greater than 0")
    return number


class InputFile:
    """An existing, readable regular file (not a folder)."""

    def __init__(self, kind: str = "file"):
        self.kind = kind

    def __call__(self, value) -> Path:
        path = Path(value)
        if not path.exists():
            raise BadParameter(f"{value}: file not found")
        if path.is_dir():
            raise BadParameter(f"{value} is a folder, expected {self.kind}")
        try:
            with open(path, "rb"):
                pass
        except OSError as err:
            raise BadParameter(f"{value} cannot be read ({err.strerror})") from None
        return path


def _writable_parent(path: Path) -> Optional[str]:
    """Why nothing can be written at `path` (its nearest existing ancestor is a file or not writable),
    or None. Probed by creating and removing a temporary file: os.access says yes to root even where
    the file system refuses."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".hil-probe.", dir=parent)
    except OSError as err:
        return f"{parent} is not writable ({err.strerror})"
    os.close(fd)
    os.unlink(probe)
    return None


class OutputFile:
    """A file to write: not a folder, with one of `suffixes` (if given), in a writable location."""

    def __init__(self, *suffixes: str):
        self.suffixes = suffixes

    def __call__(self, value) -> Path:
        path = Path(value)
        if path.is_dir():
            raise BadParameter(f"{value} is a folder, expected a file to write")
        if self.suffixes and path.suffix not in self.suffixes:
            raise BadParameter(f"{value} must end in {' or '.join(self.suffixes)}")
        problem = _writable_parent(path)
        if problem:
            raise BadParameter(f"cannot write {value}: {problem}")
        return path


class OutputDir:
    """A folder to write into: not an existing file, in a writable location."""

    def __call__(self, value) -> Path:
        path = Path(value)
        if path.exists() and not path.is_dir():
            raise BadParameter(f"{value} exists and is not a folder")
        problem = _writable_parent(path / "x")
        if problem:
            raise BadParameter(f"cannot write into {value}: {problem}")
        return path


class ExistingDir:
    """An existing folder (a run folder to read)."""

    def __call__(self, value) -> Path:
        path = Path(value)
        if not path.exists():
            raise BadParameter(f"{value}: folder not found")
        if not path.is_dir():
            raise BadParameter(f"{value} is not a folder")
        return path


def executor(value) -> str:
    """`local` or `dask://HOST:PORT`."""
    if value == "local" or (isinstance(value, str) and value.startswith("dask://") and len(value) > 7):
        return value
    raise BadParameter(f"{value!r} is neither local nor dask://HOST:PORT")


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def inside(path: Path, folder: Path) -> bool:
    """`path` lies in `folder` or below it, as written (what toolchain.contract.source_path accepts)."""
    a, f = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    return f in a.parents


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def distinct_outputs(inputs: dict[str, Optional[Path]], outputs: dict[str, Optional[Path]],
                     folders: Iterable[str] = ()) -> None:
    """UserError when an output would overwrite an input: the same file (also through a link), or,
    for the output folders named in `folders` (replaced as a whole), a folder holding an input."""
    folders = set(folders)
    given_in = {k: Path(v) for k, v in inputs.items() if v is not None}
    given_out = {k: Path(v) for k, v in outputs.items() if v is not None}
    for oname, out in given_out.items():
        for iname, inp in given_in.items():
            if _same(out, inp) or (oname in folders and _inside(inp, out)):
                raise UserError(f"{oname} {out} would overwrite the input {iname} {inp}; choose another {oname}")
    names = list(given_out)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if _same(given_out[a], given_out[b]):
                raise UserError(f"{a} and {b} are the same path {given_out[a]}; choose two different ones")


def check_input(path: Path, name: str, kind: str) -> Path:
    """InputFile for a value that is not always a path (a recipe name or file): UserError."""
    try:
        return InputFile(kind)(path)
    except BadParameter as err:
        raise UserError(f"{name} {err.message}") from None


def check_writable(path: Path, name: str) -> None:
    """UserError unless `path` can be written (checked before any work)."""
    if Path(path).is_dir():
        raise UserError(f"{path} is a folder; {name} must leave that name free for a file")
    problem = _writable_parent(Path(path))
    if problem:
        raise UserError(f"cannot write {path}: {problem}")


def reading_run_files(run_dir: Path, read):
    """read(run_dir) for a verb that reads the JSON files other verbs left in a run folder (which a
    user may have edited or truncated): each must be a JSON object, and a file with the wrong
    structure is a UserError naming the folder, not a traceback."""
    import json

    for path in sorted(Path(run_dir).glob("*.json")):
        if path.is_dir():
            raise UserError(f"{path} is a folder, expected a JSON file")
        try:
            data = json.loads(path.read_text(), parse_constant=_no_constant)
        except (OSError, ValueError) as err:
            raise UserError(f"{path} is not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise UserError(f"{path} is not a JSON object (got {type(data).__name__})")
    try:
        return read(run_dir)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise UserError(f"{run_dir}: a JSON file has an unexpected structure ({type(err).__name__}: {err}); "
                        "write it again with the verb that produced it") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")
