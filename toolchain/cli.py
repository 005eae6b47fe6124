"""`hil`: one verb per stage. Each verb is a thin shell over a function in `toolchain`.

Conventions: `--json` prints one object on stdout; `--run-dir DIR` also writes it to DIR/<verb>.json
(atomically), which `hil report DIR` reads; exit 0 on success, 2 on bad input or a missing optional
extra (one line on stderr, no traceback), 3 when an emulated design deadlocks. Heavy libraries are
imported inside the verbs so that `hil --help` and `hil estimate` start fast. A verb that reaches
another stage's output (estimate or build of a QONNX model) goes through toolchain.pipeline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from toolchain.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Hardware-in-the-loop FPGA deployment toolchain for quantized, pruned networks.")

# optional dependency (top-level module) -> the pyproject extra that installs it
EXTRAS = {"torch": "train", "brevitas": "train", "onnxscript": "train", "onnxoptimizer": "train",
          "sklearn": "train", "mlxtend": "train", "hls4ml": "hls", "matplotlib": "plot",
          "optuna": "dse", "distributed": "dse", "dask": "dse"}
RUN_DIR_HELP = "Also write the --json object to RUN_DIR/<verb>.json (for `hil report RUN_DIR`)."


def emit(result: Any, as_json: bool, summary: str) -> None:
    """Print the machine-readable object or the human summary."""
    if as_json:
        typer.echo(json.dumps(result, default=float))
    else:
        typer.echo(summary)


def save(run_dir: Optional[Path], verb: str, result: Any, *near: Optional[Path]) -> None:
    """The verb's --json object as RUN_DIR/<verb>.json, written atomically; without --run-dir, into
    the `hil train` run folder that holds one of the `near` files (toolchain/report/rundir.py)."""
    from toolchain.report.rundir import run_folder

    run_dir = run_dir if run_dir is not None else run_folder(*near)
    if run_dir is not None:
        from toolchain.fileio import write_json

        write_json(run_dir / f"{verb}.json", json.loads(json.dumps(result, default=float)))


def _run_dir(run_dir: Optional[Path]) -> Optional[Path]:
    """Checked before the verb runs, so that a bad --run-dir leaves nothing half-written."""
    if run_dir is not None and run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--run-dir {run_dir} exists and is not a folder")
    return run_dir


def _version(value: bool) -> None:
    if value:
        from toolchain import __version__

        typer.echo(f"hil {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")) -> None:
    """Hardware-in-the-loop FPGA deployment toolchain for quantized, pruned networks."""


@app.command()
def train(
    recipe: str = typer.Argument(..., help="Zoo recipe name (e.g. digits-mlp) or a recipe YAML file."),
    out: Path = typer.Option(..., "--out", help="Run folder for checkpoint.pt and metrics.json."),
    epochs: Optional[int] = typer.Option(None, help="Override the recipe's epoch count."),
    weight_bits: Optional[int] = typer.Option(None, "--weight-bits", help="Weight bits for every layer (1-8)."),
    act_bits: Optional[int] = typer.Option(None, "--act-bits", help="Activation bits for every layer (1-8)."),
    prune: Optional[str] = typer.Option(None, help="unstructured:0.989[,step=psqs,patience=10,l1=1e-4] | channels:0.5[,method=greedy|oneshot|weight|l1|l0|stepwise|narrow]"),
    seed: Optional[int] = typer.Option(None, help="Random seed (default: the recipe's)."),
    no_float_baseline: bool = typer.Option(False, "--no-float-baseline", help="Skip the float32 reference run."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics as JSON."),
) -> None:
    """Quantization-aware training with Brevitas.

    Example: hil train digits-mlp --out runs/d --weight-bits 4 --act-bits 4
    """
    from toolchain.train import train_recipe

    metrics = train_recipe(recipe, out, epochs=epochs, weight_bits=weight_bits, act_bits=act_bits,
                           prune=prune, seed=seed, float_baseline=not no_float_baseline)
    if metrics.get("metric") == "mse":  # a reconstruction recipe (issue 15): no accuracy, no BOPs
        twin = f" (float {metrics['float_mse']:.5f})" if metrics.get("float_mse") is not None else ""
        return emit(metrics, as_json, f"reconstruction MSE {metrics['mse']:.5f}{twin} -> {out}")
    baseline = f" (float {metrics['float_accuracy']:.4f})" if metrics.get("float_accuracy") is not None else ""
    emit(metrics, as_json, f"accuracy {metrics['accuracy']:.4f}{baseline}, "
                           f"{metrics['bops']:.3g} BOPs, sparsity {metrics['sparsity']:.3f} -> {out}")


@app.command()
def export(
    source: Optional[str] = typer.Argument(None, help="Run folder from `hil train`, or a recipe name with "
                                                      "--untrained (omit with --module)."),
    output: Path = typer.Option(..., "-o", "--output", help="QONNX file to write."),
    untrained: bool = typer.Option(False, "--untrained", help="Export the recipe's quantized random init."),
    module: Optional[str] = typer.Option(None, "--module", help="Your own Brevitas model: FILE.py:NAME, a class "
                                                                 "(or function) building it without arguments."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="With --module: its state_dict "
                                                                   "(torch.save(model.state_dict(), path))."),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="With --module: the input shape, batch "
                                                                          "first, e.g. 1,1,8,8."),
    data: Optional[Path] = typer.Option(None, "--data", help="With --module: verification inputs, .npz (x[, y]), "
                                                             ".npy or .csv with a label column."),
    label: str = typer.Option("label", "--label", help="The label column of a --data CSV."),
    calibrate: bool = typer.Option(False, "--calibrate", help="With --module and --data: calibrate the activation "
                                                              "quantizers on the data first (Brevitas calibration)."),
    samples: int = typer.Option(1000, help="Samples for the torch vs QONNX check (of --data, or random)."),
    seed: int = typer.Option(0, help="Seed of the untrained init / the random verification inputs."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Export to QONNX and verify it bit-exact against the PyTorch model.

    Examples: hil export runs/d -o runs/d/model.onnx --json ;
    hil export --module examples/my_cnn.py:MyCNN --weights w.pt --input-shape 1,1,8,8 --data d.npz -o model.onnx
    (exit 2, no file, when a sample differs or the module, weights or shape do not fit)
    """
    _run_dir(run_dir)
    if module is None:
        from toolchain.export import export_run

        if source is None:
            raise UserError("give a run folder, a recipe name with --untrained, or --module FILE.py:NAME")
        if weights or input_shape or data or calibrate:
            raise UserError("--weights, --input-shape, --data and --calibrate go with --module")
        result = export_run(source, output, untrained=untrained, samples=samples, seed=seed)
        save(run_dir, "export", result, output, Path(source))
    else:
        if source is not None or untrained:
            raise UserError("--module exports your own model: give no run folder or --untrained with it")
        if input_shape is None:
            raise UserError("--module needs --input-shape, e.g. --input-shape 1,1,8,8")
        if calibrate and data is None:
            raise UserError("--calibrate needs --data (the calibration inputs)")
        from toolchain.api import export as export_module
        from toolchain.data import read_dataset_file
        from toolchain.export import load_module

        x = None
        if data is not None:
            if samples < 1:
                raise UserError(f"samples must be >= 1, got {samples}")
            x = read_dataset_file(data, label).x[:samples]
        model = load_module(module, weights)
        result = export_module(model, input_shape, output, x=x, samples=samples, seed=seed,
                               calibrate=x if calibrate else None).result
        save(run_dir, "export", result, output)
    emit(result, as_json, f"{output}: {result['mismatches']} mismatches on {result['samples']} samples")


@app.command()
def lower(
    model: Path = typer.Argument(..., help="QONNX model from `hil export`."),
    output: Path = typer.Option(..., "-o", "--output", help="dataflow.onnx to write (only if bit-exact)."),
    folding: Optional[Path] = typer.Option(None, "--folding", help="FINN-format folding JSON (FINN node names "
                                                                   "accepted)."),
    target_fps: Optional[float] = typer.Option(None, "--target-fps", help="Fold for this frame rate (FINN "
                                                                          "SetFolding)."),
    part: Optional[str] = typer.Option(None, "--part", help="FPGA part or board (with --target-fps: fold to fit)."),
    clock_ns: Optional[float] = typer.Option(None, "--clock-ns", help="Clock period in ns (default 10)."),
    label_select: bool = typer.Option(False, "--label-select", help="End in a LabelSelect (top-1 class index)."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="Verification inputs .npy (N, ...) for the "
                                                                 "source model."),
    recipe: Optional[str] = typer.Option(None, "--recipe", help="Verify on this zoo recipe's data instead."),
    samples: int = typer.Option(500, "--samples", help="Verification samples (recipe data or random inputs)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
    strict: bool = typer.Option(False, "--strict", help="Refuse what is not provably bit-exact with the source's "
                                                        "float32 execution (float scales, float32 ties)."),
    input_type: Optional[str] = typer.Option(None, "--input-type", help="Integer type of a graph input without a "
                                                                        "quantizer, e.g. INT16."),
    input_scale: Optional[str] = typer.Option(None, "--input-scale", help="Its scale, e.g. 2^-10 or 0.001."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Lower QONNX to a folded streaming dataflow graph and verify it against the QONNX.

    Examples: hil lower model.onnx -o dataflow.onnx --target-fps 100000 --part Pynq-Z2 ;
    hil lower cnv.onnx --folding folding.json --label-select -o dataflow.onnx --json
    hil lower keras.onnx --input-type INT16 --input-scale 2^-10 -o dataflow.onnx
    (exit 2, no file, when a sample differs other than by a verified float32 tie — with --strict, any
    difference — or a construct cannot be lowered)
    """
    _run_dir(run_dir)
    from toolchain.defaults import DEFAULT_CLOCK_NS
    from toolchain.inputs import load_inputs
    from toolchain.lower import lower_file, parse_scale

    x = load_inputs(inputs) if inputs is not None else None
    result = lower_file(model, output, inputs=x, recipe=recipe, samples=samples, folding=folding,
                        target_fps=target_fps, clock_ns=DEFAULT_CLOCK_NS if clock_ns is None else clock_ns, part=part,
                        label_select=label_select, strict=strict, input_type=input_type,
                        input_scale=None if input_scale is None else parse_scale(input_scale))
    save(run_dir, "lower", result, output, model)
    emit(result, as_json, f"{output}: {sum(result['nodes'].values())} nodes, {result['mismatches']} mismatches, "
                          f"{result['ties']} ties on {result['samples']} samples, label agreement "
                          f"{result['label_agreement']:.4f}")


@app.command()
def estimate(
    model: Path = typer.Argument(..., help="dataflow.onnx from `hil lower`, or a QONNX model (lowered first)."),
    folding: Optional[Path] = typer.Option(None, "--folding", help="FINN-format folding JSON (FINN node names "
                                                                   "accepted)."),
    part: Optional[str] = typer.Option(None, "--part", help="FPGA part or board (default xc7z020clg400-1, Pynq-Z2)."),
    clock_ns: Optional[float] = typer.Option(None, "--clock-ns", help="Clock period in ns (default: the part's)."),
    cost: str = typer.Option("finn", "--cost", help="Resource model: finn (FINN's formulas, equal to finn-plus 1.6.1 on every op it has) | calibrated | synth (Yosys' numbers, with --rtl)."),
    rtl: Optional[Path] = typer.Option(None, "--rtl", help="With --cost synth: the RTL project (`hil build --backend "
                                                           "rtl`) on which `hil synth` ran."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as one JSON object."),
) -> None:
    """Analytic cycles, throughput, latency and LUT/FF/DSP/BRAM/URAM per layer (FINN-exact).

    Examples: hil estimate dataflow.onnx --part Pynq-Z2 --json ;
    hil estimate model.onnx --folding folding.json --part ZCU104 --clock-ns 5
    (exit 2 when the design does not fit the part; --json still prints the numbers)
    """
    _run_dir(run_dir)
    from toolchain.estimate import summary, summary_line
    from toolchain.onnxio import load_model
    from toolchain.pipeline import estimate_model

    result = estimate_model(load_model(model), part=part, clock_ns=clock_ns, cost=cost, folding=folding, rtl_dir=rtl)
    save(run_dir, "estimate", result, model)  # complete even when the design does not fit
    emit(result, as_json, summary(result))
    if not result["fits"]:
        raise UserError(f"design does not fit {result['part']}: {summary_line(result)}")


@app.command()
def emulate(
    model: Path = typer.Argument(..., help="dataflow.onnx from `hil lower`."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="Inputs .npy (N, ...) of the source model: "
                                                                 "bit-exact values and mismatches."),
    frames: Optional[int] = typer.Option(None, "--frames", help="Frames to time (default 3)."),
    size_fifos: bool = typer.Option(False, "--size-fifos", help="Size every FIFO by simulation and prove it."),
    dma_bits: Optional[int] = typer.Option(None, "--dma-bits", help="Input DMA width in bits (Pynq 64, "
                                                                    "ZynqMP 128, Alveo 512)."),
    clock_ns: Optional[float] = typer.Option(None, "--clock-ns", help="Clock period for fps (default 10)."),
    fifo_depths: Optional[Path] = typer.Option(None, "--fifo-depths", help="JSON FIFO name -> depth overrides."),
    rounding: str = typer.Option("exact", "--rounding", help="Sized depths: exact (high-water mark, >= 2) "
                                                             "or finn (<=2 -> 2, <=32 -> 32)."),
    write_model: Optional[Path] = typer.Option(None, "--write-model", help="With --size-fifos: save the "
                                                                           "model with the chosen depths."),
    shrink: bool = typer.Option(False, "--shrink", help="With --size-fifos: search each FIFO down to the "
                                                        "smallest depth that keeps the interval (slower)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the outputs (.npy)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help=RUN_DIR_HELP + " Also writes "
                                                                  "emulate_timeline.json (the report's plots)."),
    impl: str = typer.Option("hls", "--impl", help="Timing profile: hls (finn-hlslib pipelines) | rtl (the "
                                                   "--backend rtl templates, cycle-exact against Verilator)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Cycle-accurate, RTL-free emulation: latency, interval, stalls, FIFO depths, deadlock, values.

    Examples: hil emulate dataflow.onnx --json ;
    hil emulate dataflow.onnx --inputs x.npy --size-fifos --dma-bits 64 -o y.npy
    (exit 3 when the design deadlocks)
    """
    from toolchain.emulate import EmulationDeadlock, emulate as run, summary
    from toolchain.report.rundir import run_folder

    try:
        result = run(model, inputs=inputs, frames=frames, size=size_fifos, dma_bits=dma_bits, clock_ns=clock_ns,
                     output=output, fifo_depths=fifo_depths, rounding=rounding, write_model=write_model,
                     shrink=shrink, run_dir=_run_dir(run_dir) or run_folder(model), impl=impl)
    except EmulationDeadlock as err:
        if as_json:
            emit(err.result, True, "")
        raise
    emit(result, as_json, summary(result))


@app.command()
def build(
    model: Path = typer.Argument(..., help="dataflow.onnx from `hil lower` (a QONNX model is lowered first)."),
    backend: str = typer.Option("hls4ml", "--backend", help="hls4ml (HLS C++ project) | finn (FINN handoff) | "
                                                      "rtl (SystemVerilog project)."),
    output: Path = typer.Option(..., "-o", "--output", help="Project folder to write (replaced atomically)."),
    csim: int = typer.Option(0, "--csim", help="hls4ml: compile the C-simulation with g++ and compare N random "
                                               "samples with the emulator."),
    cosim: int = typer.Option(0, "--cosim", help="rtl: co-simulate N random samples with Verilator and compare "
                                                 "values, every handshake cycle and FIFO high-water marks with the "
                                                 "emulator (rtl timing profile)."),
    folding: Optional[Path] = typer.Option(None, "--folding", help="FINN-format folding JSON applied first."),
    part: Optional[str] = typer.Option(None, "--part", help="FPGA part or board (default: the model's, else "
                                                           "xc7z020clg400-1)."),
    clock_ns: Optional[float] = typer.Option(None, "--clock-ns", help="Clock period in ns (default: the model's, "
                                                                      "else the part's)."),
    hls_backend: str = typer.Option("Vitis", "--hls-backend", help="hls4ml backend: Vitis | Vivado."),
    seed: int = typer.Option(0, "--seed", help="Seed of the C-sim / test-bench samples."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """HLS project (hls4ml, exact integer types, reuse factors from the folding) or FINN handoff.

    Examples: hil build dataflow.onnx --backend hls4ml -o prj --csim 1000 --json ;
    hil build dataflow.onnx --backend finn -o finn_handoff ;
    hil build dataflow.onnx --backend rtl -o rtl_prj --cosim 1000 --json
    (exit 2, nothing written, when a node cannot be expressed exactly or a needed tool is missing)
    """
    _run_dir(run_dir)
    from toolchain.backends import summary
    from toolchain.pipeline import build as run

    result = run(model, backend, output, folding=folding, part=part, clock_ns=clock_ns, csim=csim,
                 hls_backend=hls_backend, seed=seed, cosim=cosim)
    save(run_dir, "build", result, model)
    emit(result, as_json, summary(result))


@app.command()
def synth(
    project: Path = typer.Argument(..., help="RTL project folder from `hil build --backend rtl`."),
    part: Optional[str] = typer.Option(None, "--part", help="FPGA part or board (default xc7z020clg400-1, Pynq-Z2)."),
    flatten: bool = typer.Option(False, "--flatten", help="Also synthesize the whole top flattened (its total)."),
    jobs: int = typer.Option(2, "--jobs", min=1, max=64, help="Yosys processes in parallel."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help=RUN_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Yosys synth_xilinx of an RTL project: LUT, LUTRAM, FF, CARRY4, MUXF7/8, BRAM, DSP per op.

    Writes PROJECT/synth.json, which `hil estimate --cost synth --rtl PROJECT` reads back.
    Example: hil build dataflow.onnx --backend rtl -o rtl_prj && hil synth rtl_prj --json
    """
    _run_dir(run_dir)
    from toolchain.backends.synth import RESULT, summary, synthesize
    from toolchain.defaults import resolve_device
    from toolchain.fileio import write_json

    if not project.is_dir():
        raise UserError(f"{project} is not a folder: give the RTL project of `hil build --backend rtl`")
    report = synthesize(project, resolve_device(part).part, flatten=flatten, jobs=jobs)
    result = report.as_dict()
    write_json(project / RESULT, result)
    save(run_dir, "synth", result)
    emit(result, as_json, summary(report))


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run folder (from `hil demo` or your own stages)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write RUN_DIR/report.html: per-layer cycles, pipeline timeline, FIFO occupancy, utilization.

    Example: hil report runs/demo
    """
    from toolchain.report.html import report_result, write_report

    out = write_report(run_dir)
    emit(report_result(out), as_json, f"wrote {out}")


@app.command()
def sweep(
    sweep_file: Path = typer.Argument(..., help="Sweep YAML: recipe, space, objectives, constraints, search."),
    out: Path = typer.Option(..., "-o", "--out", help="Run folder: study.db (resumable), trials/, summary.json."),
    workers: int = typer.Option(1, "--workers", help="Local worker processes (1: in this process)."),
    executor: Optional[str] = typer.Option(None, "--executor", help="local (default) | dask://HOST:PORT."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL (default sqlite in -o)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Hardware-aware design-space exploration (Optuna): bits x pruning x folding, estimate before training.

    Example: hil sweep examples/sweep-digits.yaml -o runs/sweep --workers 2 ; hil pareto runs/sweep
    (run the same command again to resume a killed sweep)
    """
    _run_dir(out)
    from toolchain.sweep.executors import make_executor
    from toolchain.sweep.schema import load_sweep
    from toolchain.sweep.study import run_sweep

    config = load_sweep(sweep_file)
    runner = make_executor(executor, workers)
    try:
        result = run_sweep(config, out, runner, storage=storage, progress=None if as_json else typer.echo)
    finally:
        runner.close()
    emit(result, as_json, f"{result['trials']} trials: {result['complete']} complete, {result['pruned']} pruned "
                          f"before training (trainings saved), {result['infeasible']} infeasible, "
                          f"{result['failed']} failed -> {out} (hil pareto {out})")


@app.command()
def pareto(
    run: Path = typer.Argument(..., help="Run folder of `hil sweep`."),
    no_plot: bool = typer.Option(False, "--no-plot", help="Skip RUN/pareto.png."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The sweep's non-dominated trials: table, RUN/pareto.png, and the command that rebuilds each.

    Example: hil pareto runs/sweep
    """
    from toolchain.sweep.pareto import pareto as front, table

    result = front(run, plot=not no_plot)
    emit(result, as_json, table(result))


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The main job on the embedded default (digits-mlp), end to end."""
    from toolchain.demo import run_demo

    summary = run_demo(out)
    emit(summary, as_json, "")


from toolchain.cli_targets import register as _register_targets  # hil run, hil serve (toolchain/targets)
_register_targets(app)


def missing_extra(err: ImportError) -> Optional[str]:
    """The one-line message for an optional dependency that is not installed, or None."""
    module = (err.name or "").split(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    return f"{module} is not installed; this verb needs the '{extra}' extra: pip install 'hil-toolchain[{extra}]'"


def main() -> None:
    # typer's standalone mode handles usage errors itself (one message, exit 2); our own bad-input
    # errors arrive as UserError and get the same treatment, and so does a missing optional extra.
    try:
        app()
    except UserError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except ImportError as err:
        message = missing_extra(err)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        sys.exit(UserError.exit_code)


if __name__ == "__main__":
    main()
