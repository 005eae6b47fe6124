"""The whole chain of issue 15's acceptance for one zoo recipe, in process (what the CLI verbs call):
export (torch ≡ QONNX) → lower --strict (dataflow ≡ QONNX) → estimate → emulate --inputs --size-fifos
(emulator ≡ QONNX, interval == the estimate's slowest node) → hls4ml C-sim (C-sim ≡ emulator, layer by
layer, and ≡ QONNX through the host steps) → FINN handoff whose folding round-trips."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.data import verification_inputs
from toolchain.emulate import emulate
from toolchain.estimate import estimate
from toolchain.export import export_run
from toolchain.lower import lower_file, lower_model
from toolchain.onnxio import load_model
from toolchain.pipeline import build
from toolchain.zoo import load_recipe


@dataclass
class Chain:
    recipe: str
    dir: Path
    export: dict
    lower: dict
    estimate: dict
    emulate: dict

    @property
    def source(self) -> Path:
        return self.dir / "model.onnx"

    @property
    def dataflow(self) -> Path:
        return self.dir / "dataflow.onnx"


def run_chain(recipe: str, tmp: Path, *, run: Optional[Path] = None, samples: int = 100,
              emulate_samples: int = 1000) -> Chain:
    """`run`: a trained run folder (else the recipe's quantized random init, --untrained); `samples`
    checks export and lowering (CI keeps it small), the emulator is checked on `emulate_samples`."""
    src, df = tmp / "model.onnx", tmp / "dataflow.onnx"
    exported = export_run(str(run) if run is not None else recipe, src, untrained=run is None, samples=samples)
    lowered = lower_file(src, df, recipe=recipe, samples=samples, strict=True)
    est = estimate(load_model(df))
    x = tmp / "x.npy"
    np.save(x, verification_inputs(load_recipe(recipe), emulate_samples, seed=1))
    emu = emulate(df, inputs=x, size=True)
    return Chain(recipe, tmp, exported, lowered, est, emu)


def check_chain(chain: Chain, emulate_samples: int = 1000) -> None:
    """The acceptance numbers every recipe must meet."""
    assert chain.export["mismatches"] == 0
    assert chain.lower["mismatches"] == 0 and chain.lower["ties"] == 0
    assert chain.emulate["samples"] == emulate_samples and chain.emulate["mismatches"] == 0
    assert chain.emulate["deadlock"] is False
    assert chain.emulate["interval_cycles"] == chain.estimate["network"]["max_cycles"]


def check_hls4ml_csim(chain: Chain, tmp: Path, samples: int, layers: list[str], model=None) -> dict:
    """`hil build --backend hls4ml --csim N` on the first N verification inputs (raw, through the host
    steps): 0 mismatching samples vs the emulator, every layer that computes an IR tensor equal to it (at
    least `layers` among them), the decoded outputs equal to the source QONNX, and not all alike (a
    constant network would make the equality empty). `model`: another lowering of the chain's source (e.g.
    folded) instead of its dataflow.onnx."""
    from toolchain.backends.hls4ml import CSIM_OUTPUTS, build_hls4ml

    x = np.load(chain.dir / "x.npy")[:samples]
    out = tmp / "hls4ml"
    model, source = (load_model(chain.dataflow), chain.dataflow) if model is None else (model, chain.source)
    result = build_hls4ml(model, out, csim=samples, source=str(source), inputs=x)
    csim = result["csim"]
    assert csim["samples"] == samples and csim["mismatches"] == 0
    assert set(layers) <= set(csim["per_layer"]) and all(v == 0 for v in csim["per_layer"].values()), csim["per_layer"]
    assert csim["source"]["samples"] == samples and csim["source"]["mismatches"] == 0
    assert len(np.unique(np.load(out / CSIM_OUTPUTS).reshape(samples, -1), axis=0)) > 1
    return result


def check_finn_handoff(chain: Chain, tmp: Path, folding: Optional[dict] = None) -> dict:
    """`hil build --backend finn` (with `--folding`, a FINN-format config in our node names, if given),
    then its folding read back by `hil lower --folding` gives the same compute nodes and network estimate
    as the handoff's dataflow.onnx (the round trip). The handoff's hil_folding.json holds the folding under
    our node names; folding_config.json uses finn-plus's (RTL SWGs, 1-D ones included, a max-pool as SWG +
    Pool), which our lowering does not read back: FINN's flow does (tests/oracle/test_finn_handoff*.py)."""
    import json

    out = tmp / "finn"
    fold = None
    if folding is not None:
        fold = tmp / "fold.json"
        fold.write_text(json.dumps(folding))
    result = build(chain.dataflow, "finn", out, folding=fold)
    assert result["fifo_sizing"]["full_throughput"]
    handed = estimate(load_model(out / "dataflow.onnx"))
    again = estimate(lower_model(load_model(chain.source), folding=str(out / "hil_folding.json")))
    compute = [r for r in handed["layers"] if not r["name"].startswith(("FIFO", "DWC"))]
    assert [r for r in again["layers"] if not r["name"].startswith(("FIFO", "DWC"))] == compute
    assert again["network"] == handed["network"]
    return result
