"""Atomic output folders: build into a hidden sibling folder, then swap it into place.

    with staged_dir(out) as tmp:
        ... write everything under tmp ...
    # `out` now holds exactly what was written; on an exception `out` is untouched

A previous `out` is replaced only once the new one is complete. Refuses to replace a file, or a
folder that was not written by the toolchain (no marker file) and is not empty.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from toolchain.errors import UserError

MARKER = "hil_build.json"


def check_target(out: Path) -> None:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UserError(f"{out} is a non-empty folder not written by `hil build`; choose another -o")


@contextmanager
def staged_dir(out: Path) -> Iterator[Path]:
    out = Path(out)
    check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
