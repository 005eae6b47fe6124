"""Throughput of the board-agent path on loopback beside the local targets, one run on one machine.

    python scripts/bench_targets.py [--recipe digits-mlp] [--batches 20] [--batch 1000] [--no-csim]

One design (the recipe's untrained export, lowered with `hil lower` defaults), `--batch`-sample batches
of integer inputs on its input grid, `--batches` of them per row after one warm-up batch:
* emulator (local): toolchain.targets.emulator.EmulatorTarget.run in this process;
* agent emulator (tcp loopback): a `hil serve --target emulator` process on 127.0.0.1, driven by
  toolchain.targets.remote.RemoteTarget (protocol v1: request, token check, array bytes both ways, the
  agent's emulator, reply); samples/s from the client's round trip;
* C-sim (local) and agent C-sim (tcp loopback), the same with `--target csim` (g++ once, cached by the
  design's hash in a temporary HIL_CACHE_DIR; compile seconds not in the rate).
Every row's outputs are asserted equal to the local emulator's. samples/s = samples / wall seconds; the
"target s" column is the time the target itself reported (the agent's compute, without the network).
The load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_design(recipe: str, folder: Path) -> Path:
    from toolchain.export import export_run
    from toolchain.lower import lower_file

    export_run(recipe, folder / "model.onnx", untrained=True, samples=100)
    lower_file(folder / "model.onnx", folder / "dataflow.onnx", samples=100)
    return folder / "dataflow.onnx"


def grid_integers(design, n: int, seed: int = 0) -> np.ndarray:
    from qonnx.core.datatype import DataType

    dt = DataType[design.input_dtype]
    rng = np.random.default_rng(seed)
    shape = (n,) + design.input_shape
    if dt.name == "BIPOLAR":
        return rng.choice([-1.0, 1.0], size=shape)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape).astype(np.float64)


def start_agent(target: str, folder: Path, cache: Path) -> tuple[subprocess.Popen, str, str]:
    token = secrets.token_hex(16)
    env = {**os.environ, "HIL_TOKEN": token, "HIL_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    log = open(folder / f"agent-{target}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "toolchain.cli", "serve", "--target", target, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT, env=env)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"agent did not start: {line!r}")
    return proc, "tcp://" + line.split("listening on ")[1].split()[0], token


def measure(target, batches: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    target.run(batches[0])  # warm-up (first-call costs: BLAS, caches, the TCP connection)
    t0 = time.perf_counter()
    own = 0.0
    for x, y_ref in zip(batches, reference):
        y, timing = target.run(x)
        assert np.array_equal(y, y_ref), f"{target.name}: outputs differ from the local emulator"
        own += timing.seconds
    wall = time.perf_counter() - t0
    n = sum(len(x) for x in batches)
    return {"samples": n, "wall_s": wall, "target_s": own, "rate": n / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="digits-mlp")
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--no-csim", action="store_true")
    args = ap.parse_args()

    from toolchain.targets.base import Design
    from toolchain.targets.csim import CSimTarget
    from toolchain.targets.emulator import EmulatorTarget
    from toolchain.targets.remote import RemoteTarget

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cache = folder / "cache"
        design = Design.from_file(make_design(args.recipe, folder))
        batches = [grid_integers(design, args.batch, seed=i) for i in range(args.batches)]
        local = EmulatorTarget()
        local.load(design)
        reference = [local.run(x)[0] for x in batches]
        rows = [("emulator (local)", measure(local, batches, reference), "")]
        kinds = ["emulator"] + ([] if args.no_csim else ["csim"])
        for kind in kinds:
            if kind == "csim":
                target = CSimTarget(cache / "csim")
                t0 = time.perf_counter()
                target.load(design)
                rows.append(("C-sim (local)", measure(target, batches, reference),
                             f"g++ {time.perf_counter() - t0:.1f} s once"))
            proc, address, token = start_agent(kind, folder, cache)
            try:
                remote = RemoteTarget(address, token)
                t0 = time.perf_counter()
                remote.load(design)
                load_s = time.perf_counter() - t0
                rows.append((f"agent {kind} (tcp loopback)", measure(remote, batches, reference),
                             f"load {load_s:.2f} s" + (" (cached compile)" if kind == "csim" else "")))
                remote.close()
            finally:
                proc.terminate()
                proc.wait(timeout=10)

    print(f"{args.recipe}: {args.batches} batches of {args.batch} samples (input {design.input_dtype} "
          f"{design.input_shape}, output {design.output_shape}); load average {os.getloadavg()[0]:.2f}")
    print(f"{'target':<30} {'samples/s':>12} {'wall s':>8} {'target s':>9}  note")
    for name, r, note in rows:
        print(f"{name:<30} {r['rate']:>12,.0f} {r['wall_s']:>8.3f} {r['target_s']:>9.3f}  {note}")


if __name__ == "__main__":
    main()
