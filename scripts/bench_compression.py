"""Compression study: quantization-aware pruning and the seed paper's channel pruning, measured.

For each model and seed: the float32 dense baseline; PTQ at each bit width; QAP (Ps&Qs schedule, global
L1, 10% of the original weights per iteration) at each bit width, measured at every requested sparsity on
the way up; channel pruning (greedy layerwise / one-shot / weight-magnitude) at each channel sparsity, at
the recipe's bit widths (4/4). Every point's BOPs and memory come from the exported QONNX
(qonnx inference_cost, sparsity discounted); the float reference is 32·32·MACs of the dense model.

    .venv/bin/python scripts/bench_compression.py            # the full study (2 worker processes)
    .venv/bin/python scripts/bench_compression.py --quick    # a smoke run for tests

Writes OUT/results.csv, OUT/accuracy_vs_bops.png and prints the table with the acceptance checks.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Study:
    models: tuple[str, ...] = ("mnist-mlp", "digits-cnn", "digits-mlp")
    seeds: tuple[int, ...] = (0, 1, 2)
    bits: tuple[int, ...] = (8, 6, 4, 3, 2)
    sparsities: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9)
    channel_sparsities: tuple[float, ...] = (0.25, 0.5, 0.75)
    methods: tuple[str, ...] = ("greedy", "oneshot", "weight")
    epochs: int | None = None  # None: each recipe's own
    qap_epochs: int | None = None  # fine-tuning epochs per QAP iteration; None: epochs / 4


QUICK = Study(models=("digits-mlp",), seeds=(0,), bits=(4, 2), sparsities=(0.0, 0.5), channel_sparsities=(0.5,),
              epochs=3, qap_epochs=1)

FIELDS = ["model", "seed", "method", "weight_bits", "act_bits", "sparsity", "accuracy", "bops", "float_bops",
          "bops_reduction", "weight_mem_bits", "act_mem_bits", "perf_per_mbit", "channels", "config"]


@dataclass
class Task:
    model: str
    seed: int
    kind: str  # "float" (float + PTQ + channel pruning) or "qap"
    bits: int = 0
    study: Study = field(default_factory=Study)


def _setup(task: Task):
    import torch

    from toolchain.data import load_dataset
    from toolchain.zoo import load_recipe, with_overrides

    torch.set_num_threads(1)
    recipe = with_overrides(load_recipe(task.model), seed=task.seed, epochs=task.study.epochs)
    return recipe, load_dataset(recipe)


def _row(task: Task, method: str, recipe, dense, model, split, sparsity: float, config: str) -> dict:
    from toolchain.compress.footprint import footprint
    from toolchain.compress.qat import evaluate

    acc = evaluate(model, split.x_test, split.y_test, recipe.architecture.bipolar_output)
    fp = footprint(model, recipe, dense, acc)
    channels = "/".join(str(c["channels"]) for c in fp["channels"].values())
    return dict(model=task.model, seed=task.seed, method=method, weight_bits=recipe.quant.weight_bits,
                act_bits=recipe.quant.act_bits, sparsity=sparsity, accuracy=acc, channels=channels, config=config,
                **{k: fp[k] for k in ("bops", "float_bops", "bops_reduction", "weight_mem_bits", "act_mem_bits",
                                      "perf_per_mbit")})


def run_float(task: Task) -> list[dict]:
    """Float baseline, PTQ at every bit width, channel pruning (every method × sparsity) from that baseline."""
    from toolchain.compress.calibrate import post_training_quantize
    from toolchain.compress.channel_pruning import prune_channels, train_float
    from toolchain.compress.footprint import dense_macs
    from toolchain.compress.magnitude import weight_layers
    from toolchain.compress.pruning import parse_prune_spec
    from toolchain.compress.qat import evaluate
    from toolchain.zoo import with_overrides

    recipe, split = _setup(task)
    float_model = train_float(recipe, split, progress=False)
    acc = evaluate(float_model, split.x_test, split.y_test, recipe.architecture.bipolar_output)
    fb = 32 * 32 * dense_macs(recipe)
    weights = sum(m.weight.numel() for _, m in weight_layers(float_model))
    rows = [dict(model=task.model, seed=task.seed, method="float", weight_bits=32, act_bits=32, sparsity=0.0,
                 accuracy=acc, bops=fb, float_bops=fb, bops_reduction=1.0, weight_mem_bits=32 * weights,
                 act_mem_bits=float("nan"), perf_per_mbit=float("nan"), channels="", config="float32 dense")]
    for b in task.study.bits:
        rb = with_overrides(recipe, weight_bits=b, act_bits=b)
        q = post_training_quantize(float_model, rb, split.x_train)
        rows.append(_row(task, "ptq", rb, recipe, q, split, 0.0, f"PTQ W{b}A{b}, percentile 99.99 calibration"))
    for method in task.study.methods:
        for s in task.study.channel_sparsities:
            spec = parse_prune_spec(f"channels:{s},method={method}")
            q, narrow, _ = prune_channels(copy.deepcopy(float_model), recipe, split, spec, progress=False)
            rows.append(_row(task, f"channels-{method}", narrow, recipe, q, split, s, spec.text()))
    return rows


def run_qap(task: Task) -> list[dict]:
    """Brevitas QAT at `bits`, then the Ps&Qs schedule up to the largest sparsity, measured on the way."""
    import torch

    from toolchain.compress.calibrate import calibrate_activations
    from toolchain.compress.magnitude import iteration_schedule, prune_unstructured
    from toolchain.compress.model import build_model
    from toolchain.compress.pruning import UnstructuredSpec
    from toolchain.zoo import with_overrides

    recipe, split = _setup(task)
    rb = with_overrides(recipe, weight_bits=task.bits, act_bits=task.bits)
    torch.manual_seed(task.seed)
    model = build_model(rb)
    calibrate_activations(model, split.x_train)
    spec = UnstructuredSpec(max(task.study.sparsities), epochs=task.study.qap_epochs)
    ft, ft_lr = iteration_schedule(spec, rb.training)
    rows = []

    def point(s: float, m) -> None:
        if any(abs(s - t) < 1e-9 for t in task.study.sparsities):
            tr = rb.training
            config = f"QAT W{task.bits}A{task.bits}, {tr.epochs} ep Adam lr {tr.lr:g} " \
                     f"batch {tr.batch_size}, then " + (f"{spec.text()} ({ft} ep/iteration at lr {ft_lr:g})"
                                                        f" stopped at {s:g}" if s else "no pruning")
            rows.append(_row(task, "qap", rb, recipe, m, split, s, config))

    prune_unstructured(model, rb, split, spec, on_point=point, progress=False)
    return rows


def run_task(task: Task) -> tuple[Task, list[dict], float]:
    t0 = time.perf_counter()
    rows = run_float(task) if task.kind == "float" else run_qap(task)
    return task, rows, time.perf_counter() - t0


def tasks_of(study: Study) -> list[Task]:
    order = {m: i for i, m in enumerate(study.models)}  # the models listed first are the slowest
    tasks = [Task(m, s, "qap", b, study) for m in study.models for s in study.seeds for b in study.bits]
    tasks += [Task(m, s, "float", 0, study) for m in study.models for s in study.seeds]
    return sorted(tasks, key=lambda t: (order[t.model], t.kind != "qap"))


def summarize(rows: list[dict]) -> list[dict]:
    """Mean over seeds per (model, method, bits, sparsity)."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["method"], r["weight_bits"], r["sparsity"])].append(r)
    out = []
    for (model, method, bits, s), rs in groups.items():
        acc = np.array([r["accuracy"] for r in rs])
        out.append(dict(model=model, method=method, bits=bits, sparsity=s, n=len(rs), acc=acc.mean(), acc_std=acc.std(),
                        bops=np.mean([r["bops"] for r in rs]), float_bops=rs[0]["float_bops"],
                        reduction=np.mean([r["bops_reduction"] for r in rs]),
                        perf=np.mean([r["perf_per_mbit"] for r in rs]), channels=rs[0]["channels"],
                        config=f"{model}, seeds {','.join(str(r['seed']) for r in rs)}: {rs[0]['config']}"))
    rank = {"float": 0, "ptq": 1, "qap": 2, "channels-greedy": 3, "channels-oneshot": 4, "channels-weight": 5}
    return sorted(out, key=lambda g: (g["model"], rank[g["method"]], -g["bits"], g["sparsity"]))


def print_table(summary: list[dict]) -> None:
    head = f"{'model':<11} {'method':<17} {'W/A':>5} {'sparsity':>8} {'accuracy %':>13} {'BOPs':>10} " \
           f"{'÷float':>7} {'acc%/Mbit':>9}  channels"
    print(head)
    print("-" * len(head))
    for g in summary:
        print(f"{g['model']:<11} {g['method']:<17} {g['bits']:>5} {g['sparsity']:>8.2f} "
              f"{100 * g['acc']:>7.2f} ±{100 * g['acc_std']:>4.2f} {g['bops']:>10.3g} {g['reduction']:>6.1f}× "
              f"{g['perf']:>9.0f}  {g['channels']}")


def _best_qap(model: str, fl: dict, qap: list[dict], label: str) -> str:
    ok = [g for g in qap if g["acc"] >= fl["acc"] - 0.01]
    if not ok:
        return f"{model}: no {label} point within 1 pp of float ({100 * fl['acc']:.2f}%)"
    best = max(ok, key=lambda g: g["reduction"])
    return (f"{model}: best {label} within 1 pp of float ({100 * fl['acc']:.2f}%, {fl['bops']:.3g} BOPs): "
            f"{100 * best['acc']:.2f}% ±{100 * best['acc_std']:.2f} at {best['reduction']:.1f}× fewer BOPs "
            f"({best['bops']:.3g}) [{'≥' if best['reduction'] >= 50 else '<'}50×] — {best['config']}")


def _greedy_vs_oneshot(model: str, s: float, by: dict, rows: list[dict]) -> str | None:
    gr, one, wt = (by.get((model, f"channels-{m}", 4, s)) for m in ("greedy", "oneshot", "weight"))
    if not (gr and one):
        return None
    acc = {(r["method"], r["seed"]): r["accuracy"] for r in rows if r["model"] == model and r["sparsity"] == s}
    seeds = sorted({sd for (m, sd) in acc if m == "channels-greedy"})
    wins = sum(acc[("channels-greedy", sd)] >= acc[("channels-oneshot", sd)] for sd in seeds)
    verdict = "greedy ≥ one-shot" if gr["acc"] >= one["acc"] else "greedy < one-shot"
    return (f"{model} channels {s:.2f}: greedy {100 * gr['acc']:.2f}% vs one-shot {100 * one['acc']:.2f}%" +
            (f" vs weight-magnitude {100 * wt['acc']:.2f}%" if wt else "") +
            f" (mean of {gr['n']} seeds; greedy ≥ one-shot in {wins}/{len(seeds)} seeds): {verdict}")


def acceptance(summary: list[dict], rows: list[dict]) -> list[str]:
    lines = []
    by = {(g["model"], g["method"], g["bits"], g["sparsity"]): g for g in summary}
    for model in sorted({g["model"] for g in summary}):
        fl = by.get((model, "float", 32, 0.0))
        qap = [g for g in summary if g["model"] == model and g["method"] == "qap"]
        if fl and qap:
            lines.append(_best_qap(model, fl, qap, "QAT/QAP point"))
            lines.append(_best_qap(model, fl, [g for g in qap if g["sparsity"] > 0], "pruned QAP point"))
        for s in sorted({g["sparsity"] for g in summary if g["model"] == model and g["method"] == "channels-greedy"}):
            line = _greedy_vs_oneshot(model, s, by, rows)
            if line:
                lines.append(line)
    return lines


def plot(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({g["model"] for g in summary})
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        gs = [g for g in summary if g["model"] == model]
        for b in sorted({g["bits"] for g in gs if g["method"] == "qap"}, reverse=True):
            line = sorted((g for g in gs if g["method"] == "qap" and g["bits"] == b), key=lambda g: g["bops"])
            ax.plot([g["bops"] for g in line], [100 * g["acc"] for g in line], "o-", ms=4, label=f"QAP W{b}A{b}")
        ptq = sorted((g for g in gs if g["method"] == "ptq"), key=lambda g: g["bops"])
        ax.plot([g["bops"] for g in ptq], [100 * g["acc"] for g in ptq], "x:", color="gray", label="PTQ")
        for method, marker in (("channels-greedy", "s"), ("channels-oneshot", "^"), ("channels-weight", "v")):
            pts = sorted((g for g in gs if g["method"] == method), key=lambda g: g["bops"])
            ax.plot([g["bops"] for g in pts], [100 * g["acc"] for g in pts], marker + "--", label=f"{method} W4A4")
        for g in gs:
            if g["method"] == "float":
                ax.plot([g["bops"]], [100 * g["acc"]], "k*", ms=12, label="float32 dense")
                ax.axhline(100 * g["acc"], color="k", lw=0.6, ls="--")
                ax.axhline(100 * g["acc"] - 1, color="k", lw=0.4, ls=":")
        ax.set_xscale("log")
        ax.set_ylim(max(0, min(100 * g["acc"] for g in gs if g["method"] != "ptq") - 5), 100)
        ax.set_xlabel("BOPs (qonnx inference_cost, sparsity discounted)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{model} (mean of seeds)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")


def _init_worker() -> None:
    import warnings

    warnings.filterwarnings("ignore")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="digits-mlp, 1 seed, W4/W2, few epochs (for tests)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_compression")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", nargs="*", help="subset of the models")
    ap.add_argument("--seeds", type=int, help="number of seeds")
    args = ap.parse_args(argv)
    study = QUICK if args.quick else Study()
    if args.models:
        study = Study(**{**asdict(study), "models": tuple(args.models)})
    if args.seeds:
        study = Study(**{**asdict(study), "seeds": tuple(range(args.seeds))})
    t0, rows = time.perf_counter(), []
    tasks = tasks_of(study)
    import multiprocessing as mp

    with ProcessPoolExecutor(max_workers=args.workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker) as pool:
        futures = [pool.submit(run_task, t) for t in tasks]
        for i, fut in enumerate(as_completed(futures), 1):
            task, part, seconds = fut.result()
            rows += part
            print(f"[{time.perf_counter() - t0:6.0f}s] {i}/{len(tasks)} {task.model} seed {task.seed} {task.kind}"
                  f"{' W%d' % task.bits if task.bits else ''}: {seconds:.0f}s", file=sys.stderr, flush=True)
    from toolchain.fileio import atomic_path, write_csv

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "results.csv",
              sorted(rows, key=lambda r: (r["model"], r["method"], -r["weight_bits"], r["sparsity"], r["seed"])), FIELDS)
    summary = summarize(rows)
    with atomic_path(args.out / "accuracy_vs_bops.png") as tmp:
        plot(summary, tmp)
    print_table(summary)
    print()
    for line in acceptance(summary, rows):
        print(line)
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s with {args.workers} workers -> "
          f"{args.out / 'results.csv'}, {args.out / 'accuracy_vs_bops.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
