"""A PYNQ board running the FINN build of our handoff (`hil build --backend finn`, then FINN's
build.py with a board and `shell_flow_type`), through the driver FINN generates for it.

    target = PynqTarget(Path("output/deploy"))   # FINN's deploy folder: bitfile/, driver/
    target.load(design)                          # flashes bitfile/finn-accel.bit (pynq.Overlay)
    y, timing = target.run(x_int)                # FINNExampleOverlay.execute: fold, pack, DMA, unpack

FINN's MakePYNQDriver writes driver/driver.py (its `io_shape_dict`: stream datatypes, normal / folded /
packed shapes) and driver/driver_base.py (FINNExampleOverlay, a pynq.Overlay driving the idma0/odma0
IODMAs); finn-examples' validate.py drives a build the same way (finn/qnn-data/templates/driver/
driver_base.py, FINNExampleOverlay.execute). The handoff's model.onnx takes the same integer input
stream as our dataflow (x / input_scale, channels-last), so the target's inputs go to the driver as they
are. The deploy folder is the board operator's own (given to `hil serve --deploy`); nothing in it
comes over the network.

Without the `pynq` package (any machine but a board), the target is refused with one line.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.errors import UserError
from toolchain.targets.base import Design, Target, Timing

BITFILE = "bitfile/finn-accel.bit"
DRIVER = "driver/driver.py"


def require_pynq() -> None:
    """UserError (one line) unless the pynq package can be imported."""
    if importlib.util.find_spec("pynq") is None:
        raise UserError("--target pynq needs the pynq package (Overlay + DMA), which runs on a PYNQ board; "
                        "it is not installed here (on the board: pip install pynq)")


class PynqTarget(Target):
    name = "pynq"

    def __init__(self, deploy: Optional[Path], platform: str = "zynq-iodma") -> None:
        super().__init__()
        require_pynq()
        if deploy is None:
            raise UserError("--target pynq needs --deploy DIR (FINN's output/deploy folder: bitfile/, driver/)")
        self.deploy = Path(deploy)
        for rel in (BITFILE, DRIVER):
            if not (self.deploy / rel).is_file():
                raise UserError(f"--deploy {self.deploy}: {rel} not found (FINN's deploy folder of a board build)")
        self.platform = platform
        self._accel = None

    def _load(self, design: Design) -> None:
        driver_dir = str((self.deploy / "driver").resolve())
        if driver_dir not in sys.path:
            sys.path.insert(0, driver_dir)  # driver.py imports driver_base from its own folder
        spec = importlib.util.spec_from_file_location("hil_finn_driver", self.deploy / DRIVER)
        driver = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(driver)  # defines io_shape_dict; its main() only runs as __main__
        shapes = driver.io_shape_dict
        ishape = tuple(shapes["ishape_normal"][0])[1:]
        oshape = tuple(shapes["oshape_normal"][0])[1:]
        if int(np.prod(ishape)) != int(np.prod(design.input_shape)) or \
                int(np.prod(oshape)) != int(np.prod(design.output_shape)):
            raise UserError(f"the board's accelerator takes {ishape} -> {oshape}, the design "
                            f"{design.input_shape} -> {design.output_shape}: not the FINN build of this design")
        from driver_base import FINNExampleOverlay  # noqa: E402 - FINN's generated driver

        self._accel = FINNExampleOverlay(str(self.deploy / BITFILE), self.platform, shapes, batch_size=1)
        self._ishape, self._oshape = ishape, oshape

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, Optional[Timing]]:
        accel, n = self._accel, len(x)
        if accel.batch_size != n:
            accel.batch_size = n  # reallocates the DMA buffers
        t0 = time.perf_counter()
        y = accel.execute(x.reshape((n,) + self._ishape))
        seconds = time.perf_counter() - t0
        return np.asarray(y, dtype=np.float64).reshape((n,) + self._oshape), \
            Timing(samples=n, seconds=seconds, kind="measured", throughput_fps=n / seconds if seconds > 0 else None)
