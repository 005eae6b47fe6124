"""`hil demo`: the main job on the embedded default (digits-mlp), end to end, with a short summary."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

DEMO_RECIPE = "digits-mlp"


def run_demo(out: Path) -> dict:
    from toolchain.export import export_run
    from toolchain.train import train_recipe

    console = Console(stderr=True)
    out = Path(out)
    stages: list[tuple[str, str, float]] = []

    def stage(name: str, fn):
        t0 = time.perf_counter()
        with console.status(f"{name}..."):
            result = fn()
        stages.append((name, result[1], time.perf_counter() - t0))
        return result[0]

    metrics = stage("train", lambda: (m := train_recipe(DEMO_RECIPE, out),
                                      f"accuracy {m['accuracy']:.2%} (float32 {m['float_accuracy']:.2%}), "
                                      f"{m['bops']:.3g} BOPs"))
    exported = stage("export", lambda: (r := export_run(str(out), out / "model.onnx"),
                                        f"torch ≡ QONNX: {r['mismatches']} mismatches on {r['samples']} samples"))

    table = Table(title=f"hil demo: {DEMO_RECIPE}")
    for col in ("stage", "result", "seconds"):
        table.add_column(col)
    for name, text, secs in stages:
        table.add_row(name, text, f"{secs:.1f}")
    console.print(table)
    console.print(f"files: {out / 'checkpoint.pt'}, {out / 'metrics.json'}, {out / 'model.onnx'}")
    return {"recipe": DEMO_RECIPE, "out": str(out), "accuracy": metrics["accuracy"],
            "float_accuracy": metrics["float_accuracy"], "bops": metrics["bops"],
            "export_mismatches": exported["mismatches"], "export_samples": exported["samples"]}
