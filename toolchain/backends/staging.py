"""Atomic output folders: build into a hidden sibling folder, then swap it into place
(toolchain.fileio.staged_folder: no moment without the project, leftovers of a killed run
recovered or removed by the next one).

    with staged_dir(out) as tmp:
        ... write everything under tmp ...
    # `out` now holds exactly what was written; on an exception `out` is untouched

A previous `out` is replaced only once the new one is complete. Refuses to replace a file, or a
folder that was not written by the toolchain (no marker file) and is not empty.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from toolchain.errors import UserError
from toolchain.fileio import recover_folder, staged_folder

MARKER = "hil_build.json"


def check_target(out: Path) -> None:
    out = Path(out)
    recover_folder(out)  # a swap killed half-way: the previous project is put back first
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UserError(f"{out} is a non-empty folder not written by `hil build`; choose another -o")


@contextmanager
def staged_dir(out: Path) -> Iterator[Path]:
    out = Path(out)
    check_target(out)
    with staged_folder(out) as tmp:
        yield tmp
