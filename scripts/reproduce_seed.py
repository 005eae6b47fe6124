"""The seed paper's main comparison (Zhang, Colbert, Das 2022, docs/compression.md §1) on this machine's data.

Per data set and seed: the dense float baseline; every channel-pruning arm (greedy, oneshot, weight, l1, l0,
stepwise, narrow) at 50 % and 75 % channel sparsity; then the quantization phase at W8A8, W4A8 and W4A4 from
each pruned float net, and from the dense one (quantization only). The pruned float nets are the
pruning-only points. Every quantized point carries both footprints (quantized activations only; every
layer output, the paper's N_f) and accuracy per Mbit of each. Then the motivating analysis: how the
channel ranking of a layer changes when the previous layer is pruned (Kendall τ, normalized Levenshtein
distance between the rankings, overlap of the kept sets).

Data: digits (5 seeds), MNIST-5k and Fashion-MNIST (3 seeds; 4,000 train / 1,000 test drawn stratified
from Debian's dataset-fashion-mnist, the size of MNIST-5k).

    .venv/bin/python scripts/reproduce_seed.py            # the full study (2 worker processes)
    .venv/bin/python scripts/reproduce_seed.py --quick    # a smoke run for tests

Epochs, chosen for a 2-core machine (the recipes' batch size and learning rates unchanged): dense float
training 20 (digits) / 10 (MNIST-5k, Fashion-MNIST) epochs; the pruning phase and the quantization phase
half of that each (the reference's ratio; the pruning phase is lengthened when the layerwise windows need
more steps, for every arm alike); the `narrow` nets train from scratch for the dense epochs.

What keeps it fast (profiled with cProfile): the dense float net of a (data set, seed) is trained once
and handed to every arm (each arm used to retrain it); each pruned float net is trained once and
quantized at the three bit widths; the qonnx costs are read off the Brevitas model (footprint
via_qonnx=False) instead of a QONNX export per point (~15 s each); a worker loads each data set once;
every worker trains on one thread.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolchain.fileio import write_csv  # noqa: E402 (after the path: the scripts run from a checkout)

ARMS = ("greedy", "oneshot", "weight", "l1", "l0", "stepwise", "narrow")
BITS = ((8, 8), (4, 8), (4, 4))
DATASETS = {"digits": "digits-mlp", "mnist5k": "mnist-mlp", "fashion": "fashion-mlp"}


@dataclass(frozen=True)
class Study:
    seeds: dict = field(default_factory=lambda: {"digits": 5, "mnist5k": 3, "fashion": 3})
    arms: tuple[str, ...] = ARMS
    sparsities: tuple[float, ...] = (0.5, 0.75)
    bits: tuple[tuple[int, int], ...] = BITS
    epochs: dict = field(default_factory=lambda: {"digits": 20, "mnist5k": 10, "fashion": 10})  # dense training
    phase_epochs: dict | None = None  # pruning and quantization phases; None: half the dense epochs
    first_seed: int = 0  # seeds first_seed, first_seed + 1, …: a later run adds seeds to an earlier one


QUICK = Study(seeds={"digits": 1}, arms=("greedy", "oneshot", "narrow"), sparsities=(0.5,), bits=((4, 4),),
              epochs={"digits": 2}, phase_epochs={"digits": 1})

FIELDS = ["dataset", "seed", "arm", "sparsity", "weight_bits", "act_bits", "accuracy", "weight_mem_bits",
          "act_mem_bits_quant", "act_mem_bits_all", "perf_per_mbit", "perf_per_mbit_all", "bops_qonnx", "bops_psqs",
          "channels"]


@dataclass
class Task:
    dataset: str
    seed: int
    arm: str  # an arm, or "dense" (float baseline, quantization only, ranking analysis)
    study: Study
    dense_state: dict | None = None  # the trained dense float net of (dataset, seed), for the arms


def subsample(split, n_train: int = 4000, n_test: int = 1000, seed: int = 0):
    """A stratified 4,000 / 1,000 draw (Fashion-MNIST ships 60,000 / 10,000)."""
    from sklearn.model_selection import train_test_split

    from toolchain.data import Split

    xtr, _, ytr, _ = train_test_split(split.x_train, split.y_train, train_size=n_train, random_state=seed,
                                      stratify=split.y_train)
    xte, _, yte, _ = train_test_split(split.x_test, split.y_test, train_size=n_test, random_state=seed,
                                      stratify=split.y_test)
    return Split(xtr, ytr, xte, yte, split.synthetic)


_SPLITS: dict = {}  # per worker process: each data set is read once (MNIST-5k's CSV parse takes ~8 s)


def setup(task: Task):
    import torch

    from toolchain.data import load_dataset
    from toolchain.zoo import load_recipe, with_overrides

    torch.set_num_threads(1)
    recipe = with_overrides(load_recipe(DATASETS[task.dataset]), seed=task.seed,
                            epochs=task.study.epochs[task.dataset])
    if task.dataset not in _SPLITS:
        split = load_dataset(recipe)
        _SPLITS[task.dataset] = subsample(split) if task.dataset == "fashion" else split
    return recipe, _SPLITS[task.dataset]


def dense_model(task: Task, recipe, split):
    """The trained dense float net: from the dense task's state when given, else trained here."""
    from toolchain.compress.channel_pruning import train_float
    from toolchain.compress.model import build_model

    if task.dense_state is None:
        return train_float(recipe, split, progress=False)
    model = build_model(recipe, quantized=False)
    model.load_state_dict(task.dense_state)
    model.eval()
    return model


def phase_epochs(task: Task, recipe) -> int:
    pe = task.study.phase_epochs
    return pe[task.dataset] if pe else max(1, recipe.training.epochs // 2)


def float_row(task, arm, s, model, recipe, split) -> dict:
    """A float32 point (dense baseline or pruning only): 32-bit weights and feature maps."""
    from toolchain.compress.channel_removal import channel_counts
    from toolchain.compress.costs import bops_psqs, feature_map_elems
    from toolchain.compress.magnitude import weight_layers
    from toolchain.compress.qat import evaluate

    acc = evaluate(model, split.x_test, split.y_test, False)
    w = 32.0 * sum(int((m.weight != 0).sum()) + (m.bias.numel() if m.bias is not None else 0)
                   for _, m in weight_layers(model))
    a_all = 32.0 * feature_map_elems(recipe)
    a_quant = 32.0 * sum(c["channels"] for c in channel_counts(recipe, recipe).values()) + \
        32.0 * int(np.prod(recipe.architecture.input_shape))
    return dict(dataset=task.dataset, seed=task.seed, arm=arm, sparsity=s, weight_bits=32, act_bits=32, accuracy=acc,
                weight_mem_bits=w, act_mem_bits_quant=a_quant, act_mem_bits_all=a_all,
                perf_per_mbit=100 * acc / ((w + a_quant) / 1e6), perf_per_mbit_all=100 * acc / ((w + a_all) / 1e6),
                bops_qonnx=float("nan"), bops_psqs=bops_psqs(model, recipe, quantized=False),
                channels="/".join(str(c["channels"]) for c in channel_counts(recipe, recipe).values()))


def quant_rows(task, arm, s, float_model, narrow, dense, split, spec) -> list[dict]:
    from toolchain.compress.channel_pruning import quantize_narrow
    from toolchain.compress.footprint import footprint
    from toolchain.compress.qat import evaluate
    from toolchain.zoo import with_overrides

    rows = []
    for wb, ab in task.study.bits:
        rb = with_overrides(narrow, weight_bits=wb, act_bits=ab)
        q = quantize_narrow(float_model, rb, split, spec, progress=False)
        acc = evaluate(q, split.x_test, split.y_test, False)
        fp = footprint(q, rb, with_overrides(dense, weight_bits=wb, act_bits=ab), acc, via_qonnx=False)
        rows.append(dict(dataset=task.dataset, seed=task.seed, arm=arm, sparsity=s, weight_bits=wb, act_bits=ab,
                         accuracy=acc, channels="/".join(str(c["channels"]) for c in fp["channels"].values()),
                         **{k: fp[k] for k in ("weight_mem_bits", "act_mem_bits_quant", "act_mem_bits_all",
                                               "perf_per_mbit", "perf_per_mbit_all", "bops_qonnx", "bops_psqs")}))
    return rows


def run_arm(task: Task) -> list[dict]:
    from toolchain.compress.channel_pruning import mask_float, train_narrow
    from toolchain.compress.channel_removal import remove_channels
    from toolchain.compress.pruning import ChannelMethod, ChannelSpec

    recipe, split = setup(task)
    pe = phase_epochs(task, recipe)
    float_model = None if task.arm == "narrow" else dense_model(task, recipe, split)
    rows = []
    for s in task.study.sparsities:
        spec = ChannelSpec(s, ChannelMethod(task.arm), epochs=pe, qepochs=pe)
        if spec.method is ChannelMethod.NARROW:
            nf, narrow, _ = train_narrow(recipe, split, spec, progress=False)
        else:
            fm = copy.deepcopy(float_model)
            nf, narrow = remove_channels(fm, recipe, mask_float(fm, recipe, split, spec, progress=False))
        rows.append(float_row(task, task.arm, s, nf, narrow, split))
        rows += quant_rows(task, task.arm, s, nf, narrow, recipe, split, spec)
    return rows


def run_dense(task: Task) -> tuple[list[dict], list[dict], dict]:
    from toolchain.compress.channel_pruning import train_float
    from toolchain.compress.pruning import ChannelSpec

    recipe, split = setup(task)
    float_model = train_float(recipe, split, progress=False)
    state = {k: v.detach().clone() for k, v in float_model.state_dict().items()}
    rows = [float_row(task, "dense", 0.0, float_model, recipe, split)]
    spec = ChannelSpec(0.5, qepochs=phase_epochs(task, recipe))
    rows += quant_rows(task, "quant-only", 0.0, float_model, recipe, recipe, split, spec)
    return rows, ranking_stability(task, float_model, recipe, split), state


def levenshtein(a, b) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def ranking_stability(task: Task, model, recipe, split) -> list[dict]:
    """The paper's motivation (MDPI §3): layer k's channel ranking (mean |activation| on the training set)
    with layer k−1 dense vs with layer k−1 pruned to s by its own ranking."""
    import torch
    from scipy.stats import kendalltau

    from toolchain.compress.channel_removal import hidden_layers
    from toolchain.compress.magnitude import keep_largest
    from toolchain.compress.pruning import pruned_count

    hidden = hidden_layers(model, recipe)
    x = torch.from_numpy(split.x_train)

    def scores(masks: dict[int, torch.Tensor]) -> list[torch.Tensor]:
        out = {}

        def hook(k):
            def f(mod, args, o):
                o = o * masks[k] if k in masks else o
                out[k] = o.abs().mean(0)
                return o
            return f

        handles = [model.body[h.act].register_forward_hook(hook(k)) for k, h in enumerate(hidden)]
        model.eval()
        with torch.no_grad():
            model(x)
        for h in handles:
            h.remove()
        return [out[k] for k in range(len(hidden))]

    dense = scores({})
    rows = []
    for k in range(1, len(hidden)):
        for s in task.study.sparsities:
            prev = keep_largest(dense[k - 1], pruned_count(s, len(dense[k - 1]))).float()
            after = scores({k - 1: prev})[k]
            r0 = torch.argsort(dense[k], descending=True, stable=True).tolist()
            r1 = torch.argsort(after, descending=True, stable=True).tolist()
            n_keep = len(r0) - pruned_count(s, len(r0))
            tau = kendalltau(dense[k].numpy(), after.numpy())[0]
            rows.append(dict(dataset=task.dataset, seed=task.seed, layer=hidden[k].name, prev_sparsity=s,
                             kendall_tau=float(tau), levenshtein=levenshtein(r0, r1) / len(r0),
                             kept_overlap=len(set(r0[:n_keep]) & set(r1[:n_keep])) / n_keep))
    return rows


def run_task(task: Task):
    """→ (task, rows, ranking rows, the dense state for the arms or None, wall s, CPU s of this process)."""
    import warnings

    warnings.filterwarnings("ignore")
    t0, c0 = time.perf_counter(), time.process_time()
    rows, ranks, state = run_dense(task) if task.arm == "dense" else (run_arm(task), [], None)
    return task, rows, ranks, state, time.perf_counter() - t0, time.process_time() - c0


ORDER = {"digits": 0, "mnist5k": 1, "fashion": 2}


def priority(task: Task) -> tuple:
    """Run order: seed, data set, then the dense net before its arms; a finished dense net's arms go before
    the next group's dense net, so the finished tasks of a study cut short form whole (data set, seed)
    groups, every data set with about as many seeds."""
    arm = 0 if task.arm == "dense" else 1 + task.study.arms.index(task.arm)
    return task.seed, ORDER[task.dataset], arm


def dense_tasks(study: Study) -> list[Task]:
    return sorted((Task(d, s, "dense", study) for d, n in study.seeds.items()
                   for s in range(study.first_seed, study.first_seed + n)), key=priority)


def arm_tasks(dense: Task, state: dict) -> list[Task]:
    """The arms of a finished dense task, each starting from its trained dense float net."""
    return [Task(dense.dataset, dense.seed, a, dense.study, None if a == "narrow" else state)
            for a in dense.study.arms]


def run_study(study: Study, workers: int, log, out: Path | None = None) -> tuple[list[dict], list[dict], float]:
    """Every task in `priority` order, at most `workers` at a time (≤ 1: in this process); each
    (dataset, seed)'s arms are queued when its dense net is trained. With `out`, the finished tasks are
    written after each one (partial.csv, partial_ranking.csv, partial_report.txt), so a study cut short
    still reports whole groups. → (rows, ranking rows, CPU s summed over the tasks)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, wait

    t0, rows, ranks, cpu, done = time.perf_counter(), [], [], 0.0, 0
    total = sum(study.seeds.values()) * (1 + len(study.arms))

    def collect(result):
        nonlocal cpu, done
        task, part, rk, state, seconds, cpu_s = result
        rows.extend(part)
        ranks.extend(rk)
        cpu, done = cpu + cpu_s, done + 1
        log(f"[{time.perf_counter() - t0:6.0f}s] {done}/{total} {task.dataset} seed {task.seed} {task.arm}: "
            f"{seconds:.0f} s wall, {cpu_s:.0f} s CPU (total CPU {cpu:.0f} s)")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            write_csv(out / "partial.csv", rows, FIELDS)
            if ranks:
                write_csv(out / "partial_ranking.csv", ranks, list(ranks[0]))
            (out / "partial_report.txt").write_text("\n".join(report(rows, ranks, study.arms)) + "\n")
        return arm_tasks(task, state) if task.arm == "dense" else []

    queue = dense_tasks(study)
    if workers <= 1:
        while queue:
            queue = sorted(queue[1:] + collect(run_task(queue[0])), key=priority)
        return rows, ranks, cpu
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        running = set()
        while queue or running:
            while queue and len(running) < workers:
                running.add(pool.submit(run_task, queue.pop(0)))
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                queue = sorted(queue + collect(fut.result()), key=priority)
    return rows, ranks, cpu


def summarize(rows: list[dict]) -> dict:
    groups = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["arm"], r["sparsity"], r["weight_bits"], r["act_bits"])].append(r)
    return groups


def report(rows: list[dict], ranks: list[dict], arms: tuple[str, ...]) -> list[str]:
    groups = summarize(rows)
    lines = [f"{'data':<8} {'arm':<11} {'sparsity':>8} {'W/A':>6} {'accuracy %':>14} {'acc%/Mbit (quant)':>18} "
             f"{'acc%/Mbit (all)':>16}  n"]
    for key in sorted(groups, key=lambda k: (k[0], k[2], -k[3], -k[4], k[1])):
        rs = groups[key]
        acc = 100 * np.array([r["accuracy"] for r in rs])
        lines.append(f"{key[0]:<8} {key[1]:<11} {key[2]:>8.2f} {f'{key[3]}/{key[4]}':>6} "
                     f"{acc.mean():>7.2f} ±{acc.std():>5.2f} {np.mean([r['perf_per_mbit'] for r in rs]):>18.0f} "
                     f"{np.mean([r['perf_per_mbit_all'] for r in rs]):>16.0f}  {len(rs)}")
    lines += ["", "paired wins of greedy over each arm (seeds where greedy's accuracy ≥ the arm's), all sparsities × bits:"]
    acc = {(r["dataset"], r["arm"], r["sparsity"], r["weight_bits"], r["act_bits"], r["seed"]): r["accuracy"] for r in rows}
    for d in sorted({r["dataset"] for r in rows}):
        parts = []
        for arm in arms:
            if arm == "greedy":
                continue
            pairs = [(v, acc[(d, arm) + k[2:]]) for k, v in acc.items() if k[:2] == (d, "greedy") and (d, arm) + k[2:] in acc]
            if pairs:
                wins = sum(g >= a for g, a in pairs)
                diff = 100 * np.mean([g - a for g, a in pairs])
                parts.append(f"{arm} {wins}/{len(pairs)} ({diff:+.2f} pp)")
        lines.append(f"  {d}: " + ", ".join(parts))
    lines += ["", "claim: greedy > oneshot > l1 (weight-L1 one-shot) > narrow, mean accuracy per (sparsity, W/A):"]
    for key in sorted({k[:1] + k[2:] for k in groups if k[1] == "greedy"}):
        d, s, wb, ab = key
        means = {a: 100 * np.mean([r["accuracy"] for r in groups[(d, a, s, wb, ab)]])
                 for a in ("greedy", "oneshot", "l1", "narrow") if (d, a, s, wb, ab) in groups}
        order = sorted(means, key=means.get, reverse=True)
        verdict = "not all four arms ran" if len(means) < 4 else \
            "holds" if order == ["greedy", "oneshot", "l1", "narrow"] else "does not hold"
        lines.append(f"  {d} {s:.2f} W{wb}A{ab}: " + " > ".join(f"{a} {means[a]:.2f}" for a in order) + f"  [{verdict}]")
    lines += ["", "claim: joint pruning + quantization beats either alone in accuracy per Mbit (best point of each, "
              "footprint with every layer output / with quantized activations only):"]
    for d in sorted({r["dataset"] for r in rows}):
        best = {}
        for label, pick in (("joint", lambda r: r["arm"] not in ("dense", "quant-only") and r["weight_bits"] < 32),
                            ("quant-only", lambda r: r["arm"] == "quant-only"),
                            ("prune-only", lambda r: r["arm"] not in ("dense", "quant-only") and r["weight_bits"] == 32)):
            cands = {k: g for k, g in groups.items() if k[0] == d and pick(g[0])}
            if cands:
                best[label] = {m: max(np.mean([r[m] for r in g]) for g in cands.values())
                               for m in ("perf_per_mbit_all", "perf_per_mbit")}
        if len(best) == 3:
            for m in ("perf_per_mbit_all", "perf_per_mbit"):
                holds = best["joint"][m] > max(best["quant-only"][m], best["prune-only"][m])
                lines.append(f"  {d} ({m}): joint {best['joint'][m]:.0f}, quant-only {best['quant-only'][m]:.0f}, "
                             f"prune-only {best['prune-only'][m]:.0f}  [{'holds' if holds else 'does not hold'}]")
    if ranks:
        lines += ["", "ranking stability of layer k when layer k-1 is pruned (mean ± std over seeds and layers):"]
        by = defaultdict(list)
        for r in ranks:
            by[(r["dataset"], r["prev_sparsity"])].append(r)
        for (d, s), rs in sorted(by.items()):
            t, l, o = (np.array([r[m] for r in rs]) for m in ("kendall_tau", "levenshtein", "kept_overlap"))
            lines.append(f"  {d} prev pruned {s:.2f}: Kendall τ {t.mean():.3f} ±{t.std():.3f}, normalized "
                         f"Levenshtein {l.mean():.3f} ±{l.std():.3f}, kept-set overlap {o.mean():.3f} ±{o.std():.3f}")
    return lines



def markdown(rows: list[dict], arms: tuple[str, ...]) -> list[str]:
    """Per data set: test accuracy (%) mean ± std over seeds, one row per (W/A, sparsity), one column per arm."""
    groups = summarize(rows)
    lines = []
    for d in sorted({r["dataset"] for r in rows}, key=ORDER.get):
        seeds = len({r["seed"] for r in rows if r["dataset"] == d})
        cell = {k[1:]: 100 * np.array([r["accuracy"] for r in g]) for k, g in groups.items() if k[0] == d}
        fmt = lambda a: f"{a.mean():.2f} ± {a.std():.2f}" if a is not None else "–"  # noqa: E731
        base = [f"{k[2]}/{k[3]} {fmt(v)}" for k, v in sorted(
            ((k, v) for k, v in cell.items() if k[0] in ("dense", "quant-only")), key=lambda kv: -kv[0][2])]
        lines += [f"{d} ({seeds} seeds): dense float32 and quantization only, W/A accuracy: " + ", ".join(base), "",
                  "| W/A | sparsity | " + " | ".join(arms) + " |", "|---|---|" + "---|" * len(arms)]
        for wb, ab in sorted({(k[2], k[3]) for k in cell}, key=lambda b: (-b[0], -b[1])):
            for sp in sorted({k[1] for k in cell if k[0] in arms}):
                if not any((a, sp, wb, ab) in cell for a in arms):
                    continue
                name = f"{wb}/{ab}" + (" (pruning only)" if wb == 32 else "")
                lines.append(f"| {name} | {100 * sp:.0f} % | " +
                             " | ".join(fmt(cell.get((a, sp, wb, ab))) for a in arms) + " |")
        lines.append("")
    return lines


def whole_groups(rows: list[dict], ranks: list[dict]):
    """Only the (data set, seed) groups with every point of the data set's largest group (a run cut short
    leaves some seeds with their dense net but not all arms) → (rows, ranks, dropped groups)."""
    count = defaultdict(int)
    for r in rows:
        count[(r["dataset"], r["seed"])] += 1
    arms = {r["arm"] for r in rows} - {"dense", "quant-only"}
    bits = {(r["weight_bits"], r["act_bits"]) for r in rows if r["weight_bits"] < 32}
    sparsities = {r["sparsity"] for r in rows if r["arm"] in arms}
    full = 1 + len(bits) + len(arms) * len(sparsities) * (1 + len(bits))  # dense, quant-only, every arm's points
    keep = {k for k, n in count.items() if n == full}
    return ([r for r in rows if (r["dataset"], r["seed"]) in keep],
            [r for r in ranks if (r["dataset"], r["seed"]) in keep], sorted(set(count) - keep))


def read_rows(path: Path) -> list[dict]:
    """A results.csv / partial.csv back into typed rows (for --from-csv)."""
    import csv

    typed = {"seed": int, "weight_bits": int, "act_bits": int, "dataset": str, "arm": str, "channels": str, "layer": str}
    with open(path, newline="") as f:
        return [{k: typed.get(k, float)(v) for k, v in r.items()} for r in csv.DictReader(f)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="digits, 1 seed, 3 arms, W4A4, 2+1 epochs (for tests)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "reproduce_seed")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (1: in this process)")
    ap.add_argument("--datasets", nargs="*", choices=sorted(DATASETS), help="subset of the data sets")
    ap.add_argument("--seeds", type=int, help="seeds per data set (default 5 digits, 3 others)")
    ap.add_argument("--first-seed", type=int, default=0, help="the first seed (to add seeds to an earlier run)")
    ap.add_argument("--epochs", type=int, help="dense training epochs for every data set (phases: half)")
    ap.add_argument("--bits", nargs="*", choices=["w8a8", "w4a8", "w4a4"], help="subset of the bit widths")
    ap.add_argument("--arms", nargs="*", choices=ARMS, help="subset of the arms")
    ap.add_argument("--from-csv", type=Path, nargs="+", help="no training: report the results.csv / partial.csv "
                    "files of earlier runs (with the ranking CSVs next to them), whole (data set, seed) groups only")
    args = ap.parse_args(argv)
    if args.from_csv:
        rows, ranks = [], []
        for path in args.from_csv:
            rows += read_rows(path)
            rank_path = path.with_name(path.name.replace("results", "ranking").replace("partial", "partial_ranking"))
            ranks += read_rows(rank_path) if rank_path.exists() else []
        # a point measured in two runs (a stopped run's dense net, redone by a later run): the later file's
        rows = list({(r["dataset"], r["seed"], r["arm"], r["sparsity"], r["weight_bits"], r["act_bits"]): r
                     for r in rows}.values())
        ranks = list({(r["dataset"], r["seed"], r["layer"], r["prev_sparsity"]): r for r in ranks}.values())
        rows, ranks, dropped = whole_groups(rows, ranks)
        arms = tuple(a for a in ARMS if any(r["arm"] == a for r in rows))
        print("\n".join(report(rows, ranks, arms) + [""] + markdown(rows, arms)))
        if dropped:
            print(f"left out, unfinished: {', '.join(f'{d} seed {s}' for d, s in dropped)}")
        return 0
    study = QUICK if args.quick else Study()
    if args.datasets:
        study = Study(**{**asdict(study), "seeds": {d: study.seeds.get(d, 3) for d in args.datasets}})
    if args.seeds:
        study = Study(**{**asdict(study), "seeds": {d: args.seeds for d in study.seeds}})
    if args.first_seed:
        study = Study(**{**asdict(study), "first_seed": args.first_seed})
    if args.epochs:
        study = Study(**{**asdict(study), "epochs": {d: args.epochs for d in DATASETS}, "phase_epochs": None})
    if args.bits:
        study = Study(**{**asdict(study), "bits": tuple((int(b[1]), int(b[3])) for b in args.bits)})
    if args.arms:
        study = Study(**{**asdict(study), "arms": tuple(args.arms)})
    if "fashion" in study.seeds:
        from toolchain.data import _fashion

        _fashion()  # refuse up front, one line, when the package is missing
    t0 = time.perf_counter()
    rows, ranks, cpu = run_study(study, args.workers, lambda m: print(m, file=sys.stderr, flush=True), args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    rows.sort(key=lambda r: (r["dataset"], r["arm"], r["sparsity"], -r["weight_bits"], -r["act_bits"], r["seed"]))
    write_csv(args.out / "results.csv", rows, FIELDS)
    if ranks:
        write_csv(args.out / "ranking.csv", ranks, list(ranks[0]))
    for name in ("partial.csv", "partial_ranking.csv", "partial_report.txt"):
        (args.out / name).unlink(missing_ok=True)
    lines = report(rows, ranks, study.arms) + [""] + markdown(rows, study.arms)
    (args.out / "report.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\n{len(rows)} points in {time.perf_counter() - t0:.0f} s wall with {args.workers} workers, "
          f"{cpu:.0f} s CPU in the tasks -> {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as err:  # a UserError (e.g. Fashion-MNIST missing): one line, exit 2
        from toolchain.errors import UserError

        if isinstance(err, UserError):
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        raise
