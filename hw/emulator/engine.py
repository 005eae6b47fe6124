"""Per design, the faster of the two bit-exact values engines (issue 17):

* the compiled plan (hw/emulator/plan.py): numpy, one closure per node, single-threaded BLAS;
* the generated standard-ONNX graph (hw/emulator/onnx_graph.py) run by onnxruntime with its default
  intra-op threads (both cores of the bench machine, as the float twin it is compared with).

    engine = compile_values(model)      # both compiled; the ONNX one may be refused (engine.reason)
    y = engine({"global_in": x_int})    # the first call measures both on a probe and keeps the faster

Why measure rather than rule: which one wins depends on the design and on the machine's load. On the
quiet 2-core bench machine (README, "Checks and benchmarks") the ONNX graph won on all five bench
networks, by 1.3x (tfc-w1a1, whose 784-wide binarizing input and XNOR layers numpy handles well) to
5.3x (jet-mlp, where onnxruntime runs each small GEMM on both cores); at a load average of 8 the two
came within noise of each other on tfc-w1a1 and digits-mlp, and the probe picked either (both are
exact). The first call runs both engines on its first PROBE_VALUES values' worth of frames, checks
that they are bit-equal (the plan is the reference: on a difference, or an onnxruntime error, the plan
is kept, with the reason), times each (best of three runs, the first one included) and keeps the
faster for every later call. `engine.choice` says which and why (`hil -v emulate` logs it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from hw.emulator.plan import ValuesPlan, compile_plan
from hw.ops.base import OnnxUnsupported

__all__ = ["ValuesEngine", "compile_values", "ENGINES"]

log = logging.getLogger("hil.emulate")

ENGINES = ("auto", "plan", "onnxruntime")
PROBE_VALUES = 1 << 20  # values of the largest tensor in the probe (jet-mlp: 16,384 frames; tfc-w1a1: 1,337)
PROBE_MIN_FRAMES = 2


@dataclass
class ValuesEngine:
    """Callable like a ValuesPlan; `engine` is "auto" (measure on the first call), "plan" or
    "onnxruntime" (forced; the latter raises OnnxUnsupported when the design has no ONNX form)."""

    plan: ValuesPlan
    onnx: Optional[Callable]
    reason: str  # why there is no ONNX engine ("" when there is one)
    engine: str = "auto"
    choice: Optional[str] = None  # "plan" or "onnxruntime" once chosen
    seconds: dict = field(default_factory=dict)  # probe seconds per engine
    why: str = ""

    @property
    def input_names(self) -> list[str]:
        return self.plan.input_names

    @property
    def output_names(self) -> list[str]:
        return self.plan.output_names

    def chunk_frames(self, max_values: Optional[int] = None) -> int:
        return self.plan.chunk_frames(max_values)

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.choice is None:
            out = self.choose(inputs)
            if out is not None:  # the probe was the whole batch
                return out
        run = self.onnx if self.choice == "onnxruntime" else self.plan
        return run(inputs)

    def choose(self, inputs: dict[str, np.ndarray]) -> Optional[dict[str, np.ndarray]]:
        """Pick the engine (see the module docstring) on a probe cut from `inputs`; returns the
        outputs when the probe is the whole of `inputs` (else None)."""
        if self.engine == "plan" or self.onnx is None:
            self.choice = "plan"
            self.why = "forced (engine=plan)" if self.engine == "plan" else f"no ONNX form: {self.reason}"
        elif self.engine == "onnxruntime":
            self.choice, self.why = "onnxruntime", "forced (engine=onnxruntime)"
        else:
            n = max(PROBE_MIN_FRAMES, PROBE_VALUES // max(self.plan.frame_values, 1))
            frames = min((len(v) for v in inputs.values()), default=0)
            probe = {k: v[:n] for k, v in inputs.items()}
            t_plan, ref = _timed(self.plan, probe)
            try:
                t_onnx, got = _timed(self.onnx, probe)  # includes onnxruntime's first-run allocations
            except Exception as err:  # noqa: BLE001 - any onnxruntime failure: the plan is the reference
                got = {k: None for k in ref}
                self.reason = f"onnxruntime failed on the probe: {str(err).splitlines()[0][:200]}"
            bad = [k for k in ref
                   if got[k] is None or ref[k].dtype != got[k].dtype or not np.array_equal(ref[k], got[k])]
            if bad:  # never seen: the tests hold the two equal; the plan is the reference
                self.choice = "plan"
                self.why = self.reason or f"the onnxruntime graph differs from the plan on the probe ({bad[0]})"
                log.warning("values engine: %s; using the plan", self.why)
                return ref if n >= frames else None
            self.seconds = {"plan": min(t_plan, *(_timed(self.plan, probe)[0] for _ in range(2))),
                            "onnxruntime": min(t_onnx, *(_timed(self.onnx, probe)[0] for _ in range(2)))}
            self.choice = min(self.seconds, key=self.seconds.get)
            self.why = (f"faster on a {min(n, frames)}-frame probe (plan {self.seconds['plan'] * 1e3:.2f} ms, "
                        f"onnxruntime {self.seconds['onnxruntime'] * 1e3:.2f} ms, best of 3; bit-equal on it)")
            log.info("values engine: %s, %s", self.choice, self.why)
            if n >= frames:
                return ref if self.choice == "plan" else got
            return None
        log.info("values engine: %s, %s", self.choice, self.why)
        return None

    def chunks(self, x: np.ndarray, prepare: Callable[[np.ndarray], np.ndarray] = np.asarray,
               max_values: Optional[int] = None) -> Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]]:
        """As ValuesPlan.chunks, through the chosen engine: memory bounded by the chunk whatever len(x)."""
        (name,) = self.input_names
        step = self.chunk_frames(max_values)
        for i in range(0, len(x), step):
            raw = x[i:i + step]
            yield i, raw, self({name: prepare(raw)})


def _timed(run: Callable, probe: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    out = run(probe)
    return time.perf_counter() - t0, out


def compile_values(model: ModelWrapper, engine: str = "auto") -> ValuesEngine:
    """The plan, and the ONNX graph's session unless the design (or `engine="plan"`) rules it out."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    plan = compile_plan(model)
    onnx, reason = None, ""
    if engine != "plan":
        from hw.emulator.onnx_graph import compile_onnx

        try:
            onnx = compile_onnx(model)
        except OnnxUnsupported as err:
            if engine == "onnxruntime":
                raise
            reason = str(err)
    return ValuesEngine(plan, onnx, reason, engine)
