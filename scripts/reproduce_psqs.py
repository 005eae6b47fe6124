"""Ps&Qs (Hawks et al. 2021, docs/compression.md §2) on this machine: quantization-aware pruning vs pruning
only vs quantization only.

Per model, bit width b ∈ {32, 8, 6, 4} and seed: train (b = 32: float32; else Brevitas QAT with b-bit weights
and activations), then the paper's iterative global L1 schedule 10 %, 20 %, …, 90 %, 96.7 %, 98.9 %, every
retraining to early stopping on a held-out tenth (patience) with the L1 penalty 1e-4, each point measured.
The 32-bit curve is pruning only, the 0 %-sparsity points of b < 32 are quantization only, the rest is QAP.
Every point carries both BOPs definitions (qonnx Σ MAC·b_a·b_w; Ps&Qs m·n·(p·b_a·b_w + b_a + b_w + log2 n)
with a 32-bit first-layer input), their reductions against the dense float32 net, net efficiency and aIQ.

    .venv/bin/python scripts/reproduce_psqs.py                       # mnist-mlp, 3 seeds
    .venv/bin/python scripts/reproduce_psqs.py --jet PATH/to/hls4ml_lhc_jets_hlf.csv   # also jet-mlp
    .venv/bin/python scripts/reproduce_psqs.py --quick               # a smoke run for tests

Writes OUT/results.csv, OUT/accuracy_vs_bops.png (accuracy vs Ps&Qs BOPs per bit width, as the paper's
Fig. 4) and OUT/report.txt.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolchain.fileio import write_csv  # noqa: E402 (after the path: the scripts run from a checkout)

FIELDS = ["model", "seed", "bits", "sparsity", "accuracy", "bops_qonnx", "bops_psqs", "bops_qonnx_reduction",
          "bops_psqs_reduction", "net_efficiency", "aiq", "weight_sparsity", "epochs_run"]


@dataclass(frozen=True)
class Study:
    models: tuple[str, ...] = ("mnist-mlp",)
    seeds: int = 3
    bits: tuple[int, ...] = (32, 8, 6, 4)
    target: float = 0.989
    epochs: int = 20  # dense training
    max_epochs: int = 10  # per pruning iteration (the paper: 100)
    patience: int = 3  # the paper: 10
    l1: float = 1e-4
    jet: str | None = None
    sparsities: tuple[float, ...] = field(default=())  # () = every point of the Ps&Qs schedule


QUICK = Study(models=("digits-mlp",), seeds=1, bits=(32, 4), target=0.5, epochs=2, max_epochs=1, patience=1)


def recipe_of(model: str, study: Study, seed: int, bits: int):
    from toolchain.zoo import load_recipe, with_overrides

    recipe = load_recipe(model)
    if model == "jet-mlp":
        recipe = recipe.model_copy(update={"dataset": recipe.dataset.model_copy(update={"path": study.jet})})
    return with_overrides(recipe, seed=seed, epochs=study.epochs,
                          weight_bits=bits if bits < 32 else None, act_bits=bits if bits < 32 else None)


def measure(model_name, seed, bits, s, model, recipe, dense, split, float_ref) -> dict:
    from toolchain.compress.aiq import efficiency
    from toolchain.compress.costs import bops_psqs
    from toolchain.compress.magnitude import weight_layers
    from toolchain.compress.qat import evaluate

    bip = recipe.architecture.bipolar_output
    acc = evaluate(model, split.x_test, split.y_test, bip)
    layers = [m for _, m in weight_layers(model)]
    if bits < 32:
        from toolchain.compress.footprint import footprint

        fp = footprint(model, recipe, dense, acc, via_qonnx=False)  # qonnx's numbers without an export per point
        qonnx, psqs = fp["bops_qonnx"], fp["bops_psqs"]
        from toolchain.train import weight_stats

        sparsity = weight_stats(model, recipe)["sparsity"]
    else:  # float32: qonnx's definition is 32·32 per remaining MAC (dense layers: one MAC per weight)
        nonzero = sum(int((m.weight != 0).sum()) for m in layers)
        qonnx, psqs = 32.0 * 32.0 * nonzero, bops_psqs(model, recipe, quantized=False)
        sparsity = 1 - nonzero / sum(m.weight.numel() for m in layers)
    eff = efficiency(model, split.x_test, acc)
    return dict(model=model_name, seed=seed, bits=bits, sparsity=s, accuracy=acc, bops_qonnx=qonnx, bops_psqs=psqs,
                bops_qonnx_reduction=float_ref[0] / qonnx, bops_psqs_reduction=float_ref[1] / psqs,
                net_efficiency=eff.network, aiq=eff.aiq, weight_sparsity=sparsity, epochs_run="")


def run_task(args) -> tuple[tuple, list[dict], float]:
    import warnings

    import torch

    from toolchain.compress.calibrate import calibrate_activations
    from toolchain.compress.costs import float_bops_psqs
    from toolchain.compress.footprint import dense_macs
    from toolchain.compress.magnitude import prune_unstructured
    from toolchain.compress.model import build_model
    from toolchain.compress.pruning import UnstructuredSpec
    from toolchain.data import load_dataset

    warnings.filterwarnings("ignore")
    model_name, seed, bits, study = args
    t0 = time.perf_counter()
    torch.set_num_threads(1)
    recipe = recipe_of(model_name, study, seed, bits)
    dense = recipe_of(model_name, study, seed, 4)
    split = load_dataset(recipe)
    float_ref = (32.0 * 32.0 * dense_macs(dense, via_qonnx=False), float_bops_psqs(dense))
    torch.manual_seed(seed)
    model = build_model(recipe, quantized=bits < 32)
    if bits < 32:
        calibrate_activations(model, split.x_train)
    spec = UnstructuredSpec(study.target, epochs=study.max_epochs, psqs=True, patience=study.patience, l1=study.l1)
    rows = []

    def point(s, m):
        if not study.sparsities or any(abs(s - t) < 1e-6 for t in study.sparsities):
            rows.append(measure(model_name, seed, bits, s, m, recipe, dense, split, float_ref))

    from toolchain.errors import UserError

    try:
        _, extra = prune_unstructured(model, recipe, split, spec, on_point=point, progress=False)
        runs = extra["pruning"]["epochs_run"]
    except UserError as err:  # global pruning emptied a layer: the curve ends at the last feasible point
        print(f"{model_name} {bits} bits seed {seed}: stopped, {err}", file=sys.stderr, flush=True)
        runs = []
    for r, n in zip(rows[1:], runs):
        r["epochs_run"] = n
    return (model_name, seed, bits), rows, time.perf_counter() - t0


def summarize(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["bits"], round(r["sparsity"], 4))].append(r)
    return {k: {m: (np.mean([r[m] for r in rs]), np.std([r[m] for r in rs]))
                for m in ("accuracy", "bops_qonnx", "bops_psqs", "bops_qonnx_reduction", "bops_psqs_reduction",
                          "net_efficiency", "aiq")} | {"n": len(rs)} for k, rs in groups.items()}


def report(summary) -> list[str]:
    lines = [f"{'model':<10} {'bits':>4} {'sparsity':>8} {'accuracy %':>14} {'BOPs psqs':>10} {'÷float':>8} "
             f"{'BOPs qonnx':>10} {'÷float':>8} {'η':>6} {'aIQ':>6}  n"]
    for (model, bits, s), g in sorted(summary.items(), key=lambda kv: (kv[0][0], -kv[0][1], kv[0][2])):
        lines.append(f"{model:<10} {bits:>4} {s:>8.3f} {100 * g['accuracy'][0]:>7.2f} ±{100 * g['accuracy'][1]:>5.2f} "
                     f"{g['bops_psqs'][0]:>10.3g} {g['bops_psqs_reduction'][0]:>7.1f}× {g['bops_qonnx'][0]:>10.3g} "
                     f"{g['bops_qonnx_reduction'][0]:>7.1f}× {g['net_efficiency'][0]:>6.3f} {g['aiq'][0]:>6.3f}  {g['n']}")
    lines.append("")
    for model in sorted({k[0] for k in summary}):
        ref = summary.get((model, 32, 0.0))
        if not ref:
            continue
        floor = ref["accuracy"][0] - 0.01
        lines.append(f"{model}: dense float32 {100 * ref['accuracy'][0]:.2f}%; best points within 1 pp (mean of seeds):")
        for label, pick in (("QAP (b < 32, pruned)", lambda k: k[1] < 32 and k[2] > 0),
                            ("quantization only", lambda k: k[1] < 32 and k[2] == 0),
                            ("pruning only (float32)", lambda k: k[1] == 32 and k[2] > 0)):
            ok = {k: g for k, g in summary.items() if k[0] == model and pick(k) and g["accuracy"][0] >= floor}
            if not ok:
                lines.append(f"  {label}: none")
                continue
            for metric in ("bops_psqs_reduction", "bops_qonnx_reduction"):
                k, g = max(ok.items(), key=lambda kv: kv[1][metric][0])
                lines.append(f"  {label}, by {metric}: {g[metric][0]:.1f}× at {k[1]} bits, sparsity {k[2]:.3f}, "
                             f"{100 * g['accuracy'][0]:.2f}% ±{100 * g['accuracy'][1]:.2f}, aIQ {g['aiq'][0]:.3f}")
    return lines


def plot(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({k[0] for k in summary})
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        for bits in sorted({k[1] for k in summary if k[0] == model}, reverse=True):
            pts = sorted((k[2], g) for k, g in summary.items() if k[0] == model and k[1] == bits)
            ax.plot([g["bops_psqs"][0] for _, g in pts], [100 * g["accuracy"][0] for _, g in pts], "o-", ms=3,
                    label="float32 (pruning only)" if bits == 32 else f"{bits}-bit QAP")
        ax.set_xscale("log")
        ax.set_xlabel("BOPs (Ps&Qs: m·n·(p·b_a·b_w + b_a + b_w + log2 n), 32-bit input)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{model}: pruning to 98.9 % (mean of seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="digits-mlp, 1 seed, 32/4 bits to 50 %%, 2+1 epochs (tests)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "reproduce_psqs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--jet", help="the OpenML hls4ml_lhc_jets_hlf CSV: also run jet-mlp")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--epochs", type=int, help="dense training epochs")
    ap.add_argument("--max-epochs", type=int, help="epochs per pruning iteration, before early stopping")
    ap.add_argument("--patience", type=int)
    ap.add_argument("--bits", nargs="*", type=int, help="subset of 32 8 6 4")
    args = ap.parse_args(argv)
    study = QUICK if args.quick else Study()
    if args.jet:
        study = replace(study, models=study.models + ("jet-mlp",), jet=args.jet)
    for key in ("seeds", "epochs", "max_epochs", "patience", "bits"):
        if getattr(args, key):
            study = replace(study, **{key: tuple(args.bits) if key == "bits" else getattr(args, key)})
    tasks = [(m, s, b, study) for m in study.models for s in range(study.seeds) for b in study.bits]
    t0, rows = time.perf_counter(), []
    import multiprocessing as mp

    with ProcessPoolExecutor(max_workers=args.workers, mp_context=mp.get_context("spawn")) as pool:
        for i, fut in enumerate(as_completed([pool.submit(run_task, t) for t in tasks]), 1):
            key, part, seconds = fut.result()
            rows += part
            print(f"[{time.perf_counter() - t0:6.0f}s] {i}/{len(tasks)} {key}: {seconds:.0f}s", file=sys.stderr,
                  flush=True)
            args.out.mkdir(parents=True, exist_ok=True)  # the finished tasks survive an interrupted study
            write_csv(args.out / "partial.csv", rows, FIELDS)
    from toolchain.fileio import atomic_path

    args.out.mkdir(parents=True, exist_ok=True)
    rows.sort(key=lambda r: (r["model"], -r["bits"], r["sparsity"], r["seed"]))
    write_csv(args.out / "results.csv", rows, FIELDS)
    (args.out / "partial.csv").unlink(missing_ok=True)
    summary = summarize(rows)
    with atomic_path(args.out / "accuracy_vs_bops.png") as tmp:
        plot(summary, tmp)
    lines = report(summary)
    (args.out / "report.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\n{len(rows)} points in {time.perf_counter() - t0:.0f} s with {args.workers} workers -> {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as err:
        from toolchain.errors import UserError

        if isinstance(err, UserError):
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        raise
