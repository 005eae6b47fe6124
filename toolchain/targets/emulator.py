"""The emulator as a target (the default, and every other target's reference): values from the
faster of the two exact values engines (hw.emulator.engine: the compiled numpy plan or the generated ONNX
graph under onnxruntime, what `hil emulate --inputs` runs), cycle numbers from the
timing engine (hw.emulator.timing, 3 frames with the design's own FIFO depths, as `hil emulate`
without --size-fifos), at the design's clock and the DMA width of its part."""

from __future__ import annotations

from typing import Optional

import numpy as np

from toolchain.errors import UserError
from toolchain.targets.base import Design, Target, Timing

FRAMES = 3  # hil emulate's default


class EmulatorTarget(Target):
    name = "emulator"

    def __init__(self) -> None:
        super().__init__()
        self._plan = None
        self._cycles: dict = {}

    def _load(self, design: Design) -> None:
        from hw.emulator.graph import SimConfig, TimingGraphError
        from hw.emulator.model_graph import build_timing_graph
        from hw.emulator.engine import compile_values
        from hw.emulator.timing import simulate
        from hw.ops.base import OpError
        from toolchain.defaults import known_device, resolve_clock

        model = design.model
        part = model.get_metadata_prop("hil_part")
        device = known_device(part)
        clock_ns = resolve_clock(None, model, part)
        try:
            plan = compile_values(model)
            timing = simulate(build_timing_graph(model), SimConfig(frames=FRAMES,
                                                                   dma_bits=device.dma_bits if device else None))
        except (TimingGraphError, OpError) as err:
            raise UserError(str(err).splitlines()[0]) from None
        if timing.deadlock is not None:
            raise UserError(f"the design deadlocks in the emulator: {timing.deadlock.describe()}")
        self._plan = plan
        self._cycles = {"latency_cycles": timing.latency_cycles, "interval_cycles": timing.interval,
                        "throughput_fps": timing.throughput_fps(clock_ns)}

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, Optional[Timing]]:
        import time

        from hw.emulator.values import single_threaded_blas

        t0 = time.perf_counter()
        (out,) = self._plan.output_names
        with single_threaded_blas():
            parts = [y[out] for _, _, y in self._plan.chunks(x)]
        y = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return y, Timing(samples=len(x), seconds=time.perf_counter() - t0, kind="emulated", **self._cycles)

    def describe(self) -> dict:
        return {**super().describe(), **({"cycles": self._cycles} if self._cycles else {})}
