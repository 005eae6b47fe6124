"""The hls4ml C-simulation as a target: the project `hil build --backend hls4ml` writes
(toolchain.backends.hls4ml.make_model_graph of the same plan), compiled once with g++ and cached by
the design's hash, then called sample by sample through hls4ml's ctypes bridge.

Cache: HIL_CACHE_DIR (default ~/.cache/hil)/csim/<key>/, key = sha256 of the design's bytes, the
hls4ml version and CACHE_FORMAT. A project is compiled under an exclusive file lock, and marked
complete (hil_csim.json, naming the library) only after g++ succeeded, so a second process (an agent
and a local `hil run`) waits for the first compile and reuses it; a folder without the mark is rebuilt.
Encodings in and out of the C-sim (bipolar as bits, LabelSelect on the host) are the plan's, as in
toolchain.backends.csim.run_csim.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.targets.base import Design, Target, Timing

CACHE_FORMAT = "1"
MARK = "hil_csim.json"


def cache_root() -> Path:
    return Path(os.environ.get("HIL_CACHE_DIR") or Path.home() / ".cache" / "hil")


class CSimTarget(Target):
    name = "csim"

    def __init__(self, cache_dir: Optional[Path] = None) -> None:
        super().__init__()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._hmodel = None
        self._plan = None
        self.compiled_now = False  # False: the library came from the cache
        self.compile_seconds = 0.0

    def _load(self, design: Design) -> None:
        import warnings

        import hls4ml

        from toolchain.backends.hls4ml import HLSOptions, backend_name, make_model_graph
        from toolchain.backends.plan import plan_hls4ml
        from toolchain.defaults import resolve_clock, resolve_part

        plan = plan_hls4ml(design.model)  # refusals (UserError) before anything is written
        part = resolve_part(None, design.model)
        opts = HLSOptions(backend_name("Vitis"), part, resolve_clock(None, design.model, part))
        key = hashlib.sha256(f"{design.digest}/{hls4ml.__version__}/{CACHE_FORMAT}".encode()).hexdigest()[:32]
        folder = (self.cache_dir or cache_root() / "csim") / key
        folder.parent.mkdir(parents=True, exist_ok=True)
        with _locked(folder.parent / f"{key}.lock"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mark = folder / MARK
            lib = _cached_library(folder)
            if lib is None:
                shutil.rmtree(folder, ignore_errors=True)  # an interrupted compile: start again
                hmodel = make_model_graph(plan, folder, opts)
                from toolchain.backends.csim import compile_project

                self.compile_seconds = compile_project(hmodel)
                self.compiled_now = True
                lib = Path(hmodel._top_function_lib._name)
                from toolchain.fileio import write_json

                write_json(mark, {"library": lib.name, "design": design.digest, "hls4ml": hls4ml.__version__})
            else:
                import ctypes

                hmodel = make_model_graph(plan, folder, opts)
                # hls4ml's ModelGraph._compile loads the library the same way after build_lib.sh
                hmodel._top_function_lib = ctypes.cdll.LoadLibrary(str(lib))
        self._hmodel, self._plan = hmodel, plan

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, Optional[Timing]]:
        import time

        from toolchain.backends.csim import host_label_select

        plan, n = self._plan, len(x)
        x_hw = np.ascontiguousarray(plan.input.enc.to_hw(x).reshape(n, -1), dtype=np.float64)
        top, _ = self._hmodel._get_top_function(x_hw)
        out_size = self._hmodel.get_output_variables()[0].size()
        y_hw = np.zeros((n, out_size), dtype=np.float64)
        t0 = time.perf_counter()
        for i in range(n):  # the C-sim's top function takes one sample
            top(x_hw[i], y_hw[i])
        seconds = time.perf_counter() - t0
        y = plan.output.enc.from_hw(y_hw)
        if plan.host_label_select:
            y = host_label_select(self.design.model, plan, y.reshape((n,) + tuple(plan.layers[-1].shape)))
        return y, Timing(samples=n, seconds=seconds)

    def describe(self) -> dict:
        return {**super().describe(), "compiled_now": self.compiled_now,
                "compile_seconds": round(self.compile_seconds, 2)}


def _cached_library(folder: Path) -> Optional[Path]:
    """The compiled library of a complete cache entry, or None."""
    try:
        mark = json.loads((folder / MARK).read_text())
        lib = folder / "firmware" / Path(mark["library"]).name
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return lib if lib.is_file() else None


class _locked:
    """An exclusive fcntl lock on `path` for the block (released when the file closes)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        import fcntl

        self.f = open(self.path, "a")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.f.close()
