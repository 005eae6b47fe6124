"""Which run folder a verb's JSON belongs in, when the user did not say (`--run-dir`).

A user who follows the README (`hil train ... --out runs/d`, then export / lower / estimate / emulate
on files inside runs/d) expects `hil report runs/d` to show all of it, without repeating a flag on
every command. So a verb whose output file, or else whose input file, sits in a folder that `hil
train` made (it holds RUN_MARKER, the run's metrics.json) also writes its --json object there as
<verb>.json, exactly as `--run-dir` would. Files elsewhere (`hil export cnv-w1a1 --untrained -o
cnv.onnx` in the current folder) are not a run: nothing is written beside them. An explicit
`--run-dir` always wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

RUN_MARKER = "metrics.json"  # toolchain.train.METRICS (tests/unit/test_report_page.py checks they agree)


def run_folder(*paths: Optional[Path]) -> Optional[Path]:
    """The first of `paths` (a folder, or a file whose folder is taken) that is a `hil train` run folder."""
    for path in paths:
        if path is None:
            continue
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        if (folder / RUN_MARKER).is_file():
            return folder
    return None
