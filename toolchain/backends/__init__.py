"""Backends: an HLS project (hls4ml) or a FINN handoff from the dataflow graph.

    result = build_hls4ml(dataflow_model, "prj", csim=1000)                 # toolchain.backends.hls4ml
    result = build_finn(dataflow_model, "finn_dir", source_qonnx=..., relower=...)   # toolchain.backends.finn

Each backend takes a dataflow graph; lowering a QONNX input and applying a folding first is
orchestration (toolchain.pipeline.build, `hil build`), so the backends import no other stage.
"""

from __future__ import annotations

BACKENDS = ("hls4ml", "finn", "rtl")
RESULT = "build.json"
# the units map of every backend's result (toolchain.schemas.versioned); keys a backend lacks are absent
UNITS = {
    "clock_ns": "ns", "seconds": "s (wall time of the build)", "csim.compile_seconds": "s",
    "csim.samples": "samples compared", "csim.mismatches": "samples",
    "layers.reuse_factor": "multiplications per multiplier (hls4ml ReuseFactor)",
    "edges.depth": "words", "edges.width": "bits", "fifo_sizing.depths": "words",
    "cosim.samples": "samples compared", "cosim.mismatches": "samples",
}


def summary(result: dict) -> str:
    """One human line for `hil build` without --json."""
    if result["backend"] == "finn":
        return (f"FINN handoff in {result['dir']}: {result['model_file']}, {result['folding_file']} "
                f"({result['nodes']} nodes)")
    if result["backend"] == "rtl":
        text = f"RTL project ({result['top']}, {result['nodes']} nodes) in {result['dir']}"
        cosim = result.get("cosim")
        if cosim:
            text += (f"; Verilator co-simulation: {cosim['mismatches']} mismatches on {cosim['samples']} samples, "
                     f"cycle-exact {cosim['cycle_exact']}, FIFO high-water marks equal {cosim['fifo_high_water_equal']}")
        return text
    text = f"hls4ml project ({result['hls_backend']}, {result['part']}) in {result['project']}"
    csim = result.get("csim")
    if csim:
        text += (f"; C-sim: {csim['mismatches']} mismatches on {csim['samples']} samples "
                 f"(g++ {csim['compile_seconds']} s)")
    return text
