"""`hil`: one verb per stage. Each verb is a thin shell over a function in `toolchain`.

Conventions: `--json` prints one object on stdout; `--run-dir DIR` also writes it to DIR/<verb>.json
(atomically), which `hil report DIR` reads; exit 0 on success, 2 on bad input or a missing optional
extra (one line on stderr, no traceback), 3 when an emulated design deadlocks. Heavy libraries are
imported inside the verbs so that `hil --help` and `hil estimate` start fast. A verb that reaches
another stage's output (estimate or build of a QONNX model) goes through toolchain.pipeline.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

try:  # the click that typer raises: its own vendored copy (typer >= 0.20), else click itself
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as cx

from toolchain import cli_types as T
from toolchain.backends import BACKENDS
from toolchain.cli_types import distinct_outputs
from toolchain.errors import UserError
from toolchain.progress import step

# rich_markup_mode=None: click's plain help, where a flag reads `--json` (not `--json <bool>`) and a
# choice lists its values (`--cost [finn|calibrated]`)
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Hardware-in-the-loop FPGA deployment toolchain for quantized, pruned networks.")
log = logging.getLogger("hil")
Backend = Enum("Backend", {name.upper(): name for name in BACKENDS}, type=str)  # --backend's choices

# optional dependency (top-level module) -> the pyproject extra that installs it
EXTRAS = {"torch": "train", "brevitas": "train", "onnxscript": "train", "onnxoptimizer": "train",
          "sklearn": "train", "mlxtend": "train", "hls4ml": "hls", "matplotlib": "plot",
          "optuna": "dse", "distributed": "dse", "dask": "dse"}
RUN_DIR_HELP = "Also write the --json object to RUN_DIR/<verb>.json (for `hil report RUN_DIR`)."


def emit(result: Any, as_json: bool, summary: str) -> None:
    """Print the machine-readable object or the human summary. Non-finite floats print as null:
    a bare NaN is not JSON."""
    if as_json:
        typer.echo(json.dumps(_finite(result), default=float, allow_nan=False))
    else:
        typer.echo(summary)


def save(run_dir: Optional[Path], verb: str, result: Any, *near: Optional[Path]) -> None:
    """The verb's --json object as RUN_DIR/<verb>.json, written atomically; without --run-dir, into
    the `hil train` run folder that holds one of the `near` files (toolchain/report/rundir.py)."""
    from toolchain.report.rundir import run_folder

    run_dir = run_dir if run_dir is not None else run_folder(*near)
    if run_dir is not None:
        from toolchain.fileio import write_json

        write_json(run_dir / f"{verb}.json", json.loads(json.dumps(_finite(result), default=float, allow_nan=False)))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _run_dir(run_dir: Optional[Path]) -> Optional[Path]:
    """Checked before the verb runs, so that a bad --run-dir leaves nothing half-written (the type
    T.OutputDir has already refused a file and an unwritable location)."""
    if run_dir is not None and run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--run-dir {run_dir} exists and is not a folder")
    return run_dir


def _run_json(run_dir: Optional[Path], *names: str) -> dict[str, Optional[Path]]:
    """The files --run-dir will receive, as outputs for distinct_outputs."""
    return {f"--run-dir file {n}": (run_dir / n if run_dir is not None else None) for n in names}


# shared option types (cli_types.py): one place says what a valid value is
POSITIVE = T.positive_float
SEED = T.count(0, T.MAX_SEED)
SAMPLES = T.count(1, T.MAX_SAMPLES)
RUN_DIR = typer.Option(None, "--run-dir", help=RUN_DIR_HELP, parser=T.OutputDir())
SOURCE = typer.Option(None, "--source", help="The source QONNX the model was lowered from (default: its metadata "
                                              "hil_source, followed only inside the model's folder).",
                      parser=T.InputFile("an .onnx model"))


def _version(value: bool) -> None:
    if value:
        from toolchain import __version__

        typer.echo(f"hil {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="Print the version and exit."),
             quiet: bool = typer.Option(False, "-q", "--quiet", help="Only errors on stderr (no progress)."),
             verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More detail on stderr (-vv: debug)."),
             ) -> None:
    """Hardware-in-the-loop FPGA deployment toolchain for quantized, pruned networks."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    configure_logging(level)


def configure_logging(level: int) -> None:
    """The `hil` logger on stderr at `level`: warnings by default, errors only with -q (which also hides
    the progress spinners, toolchain/progress.py), info and debug with -v / -vv."""
    root = logging.getLogger("hil")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


@app.command()
def train(
    recipe: str = typer.Argument(..., help="Zoo recipe name (e.g. digits-mlp) or a recipe YAML file."),
    out: Path = typer.Option(..., "--out", help="Run folder for checkpoint.pt, recipe.json and metrics.json.",
                             parser=T.OutputDir()),
    epochs: Optional[int] = typer.Option(None, help="Override the recipe's epoch count.",
                                         parser=T.count(1, T.MAX_EPOCHS)),
    weight_bits: Optional[int] = typer.Option(None, "--weight-bits", help="Weight bits for every layer (1-8)."),
    act_bits: Optional[int] = typer.Option(None, "--act-bits", help="Activation bits for every layer (1-8)."),
    prune: Optional[str] = typer.Option(None, help="unstructured:0.989[,step=psqs,patience=10,l1=1e-4] | channels:0.5[,method=greedy|oneshot|weight|l1|l0|stepwise|narrow]"),
    seed: Optional[int] = typer.Option(None, help="Random seed (default: the recipe's).", parser=SEED),
    no_float_baseline: bool = typer.Option(False, "--no-float-baseline", help="Skip the float32 reference run."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Resource budget, e.g. LUT=20000,BRAM_18K=100: "
                                         "after QAT keep the hidden channels a knapsack on the cost model's "
                                         "marginal cost per channel picks, then fine-tune (needs --part)."),
    part: Optional[str] = typer.Option(None, "--part", help="With --budget: the FPGA part or board."),
    target_fps: Optional[float] = typer.Option(None, "--target-fps", help="With --budget: the folding (FINN "
                                               "SetFolding for this frame rate; default PE = SIMD = 1).",
                                               parser=POSITIVE),
    clock_ns: float = typer.Option(10.0, "--clock-ns", help="With --budget: the clock period.", parser=POSITIVE),
    cost: str = typer.Option("finn", "--cost", help="With --budget: the cost model, finn or calibrated."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics as JSON."),
) -> None:
    """Quantization-aware training with Brevitas.

    Examples: hil train digits-mlp --out runs/d --weight-bits 4 --act-bits 4 ;
    hil train digits-mlp --out runs/b --budget LUT=1200 --part Pynq-Z2 --target-fps 1e5
    """
    recipe_file = Path(recipe) if Path(recipe).suffix else None  # a name without a suffix is a zoo recipe
    if recipe_file is not None and recipe_file.exists():
        T.check_input(recipe_file, "RECIPE", "a recipe YAML file")
    from toolchain.train import CHECKPOINT, METRICS, RECIPE_FILE, train_recipe

    distinct_outputs({"RECIPE": recipe_file}, {f"--out file {n}": out / n for n in (CHECKPOINT, RECIPE_FILE, METRICS)})

    plan = _budget_plan(budget, part, target_fps, clock_ns, cost, seed)
    metrics = train_recipe(recipe, out, epochs=epochs, weight_bits=weight_bits, act_bits=act_bits,
                           prune=prune, seed=seed, float_baseline=not no_float_baseline, budget=plan)
    if metrics.get("metric") == "mse":  # a reconstruction recipe (issue 15): no accuracy, no BOPs
        twin = f" (float {metrics['float_mse']:.5f})" if metrics.get("float_mse") is not None else ""
        return emit(metrics, as_json, f"reconstruction MSE {metrics['mse']:.5f}{twin} -> {out}")
    baseline = f" (float {metrics['float_accuracy']:.4f})" if metrics.get("float_accuracy") is not None else ""
    fitted = ""
    if "budget" in metrics:
        b = metrics["budget"]
        fitted = "; budget " + ", ".join(f"{r} {b['before'][r]:.0f} -> {b['after'][r]:.0f} (<= {lim:g})"
                                         for r, lim in b["limits"].items()) + ("" if b["fits"] else " NOT MET")
    emit(metrics, as_json, f"accuracy {metrics['accuracy']:.4f}{baseline}, "
                           f"{metrics['bops']:.3g} BOPs, sparsity {metrics['sparsity']:.3f}{fitted} -> {out}")


def _budget_plan(budget: Optional[str], part: Optional[str], target_fps: Optional[float], clock_ns: float,
                 cost: str, seed: Optional[int]):
    """--budget and its design (--part, --target-fps, --clock-ns, --cost), validated before training."""
    if budget is None:
        if part is not None or target_fps is not None:
            raise UserError("--part and --target-fps of `hil train` go with --budget")
        return None
    if part is None:
        raise UserError("--budget needs --part (the FPGA part or board the budget is for)")
    if cost not in ("finn", "calibrated"):
        raise UserError(f"--cost must be finn or calibrated, got '{cost}'")
    from hw.devices import UnknownDeviceError, get_device
    from toolchain.compress.budget import BudgetPlan, parse_budget
    from toolchain.sweep.costing import resource_cost

    parsed = parse_budget(budget)
    try:
        get_device(part)
    except UnknownDeviceError as err:
        raise UserError(f"--part: {err}") from None
    return BudgetPlan(parsed, part, target_fps, clock_ns,
                      resource_cost(part=part, target_fps=target_fps, clock_ns=clock_ns, cost=cost, seed=seed or 0))


@app.command()
def export(
    source: Optional[str] = typer.Argument(None, help="Run folder from `hil train`, or a recipe name with "
                                                      "--untrained (omit with --module)."),
    output: Path = typer.Option(..., "-o", "--output", help="QONNX file to write.",
                                parser=T.OutputFile(".onnx")),
    untrained: bool = typer.Option(False, "--untrained", help="Export the recipe's quantized random init."),
    module: Optional[str] = typer.Option(None, "--module", help="Your own Brevitas model: FILE.py:NAME, a class "
                                                                 "(or function) building it without arguments."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="With --module: its state_dict "
                                                                   "(torch.save(model.state_dict(), path)).",
                                           parser=T.InputFile("a state_dict file")),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="With --module: the input shape, batch "
                                                                          "first, e.g. 1,1,8,8."),
    data: Optional[Path] = typer.Option(None, "--data", help="With --module: verification inputs, .npz (x[, y]), "
                                                             ".npy or .csv with a label column.",
                                        parser=T.InputFile("a .npz, .npy or .csv file")),
    label: str = typer.Option("label", "--label", help="The label column of a --data CSV."),
    calibrate: bool = typer.Option(False, "--calibrate", help="With --module and --data: calibrate the activation "
                                                              "quantizers on the data first (Brevitas calibration)."),
    samples: int = typer.Option(1000, help="Samples for the torch vs QONNX check (of --data, or random).",
                                parser=SAMPLES),
    seed: int = typer.Option(0, help="Seed of the untrained init / the random verification inputs.", parser=SEED),
    run_dir: Optional[Path] = RUN_DIR,
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Export to QONNX and verify it bit-exact against the PyTorch model.

    Examples: hil export runs/d -o runs/d/model.onnx --json ;
    hil export --module examples/my_cnn.py:MyCNN --weights w.pt --input-shape 1,1,8,8 --data d.npz -o model.onnx
    (exit 2, no file, when a sample differs or the module, weights or shape do not fit)
    """
    _run_dir(run_dir)
    if module is None:
        from toolchain.export import export_run
        from toolchain.train import CHECKPOINT, RECIPE_FILE

        if source is None:
            raise UserError("give a run folder, a recipe name with --untrained, or --module FILE.py:NAME")
        if weights or input_shape or data or calibrate:
            raise UserError("--weights, --input-shape, --data and --calibrate go with --module")
        inputs = {} if untrained else {"checkpoint": Path(source) / CHECKPOINT, "recipe": Path(source) / RECIPE_FILE}
        distinct_outputs(inputs, {"-o": output, **_run_json(run_dir, "export.json")})
        with step(f"exporting {source} and checking torch = QONNX"):
            result = export_run(source, output, untrained=untrained, samples=samples, seed=seed)
        save(run_dir, "export", result, output, Path(source))
    else:
        if source is not None or untrained:
            raise UserError("--module exports your own model: give no run folder or --untrained with it")
        if input_shape is None:
            raise UserError("--module needs --input-shape, e.g. --input-shape 1,1,8,8")
        if calibrate and data is None:
            raise UserError("--calibrate needs --data (the calibration inputs)")
        module_file = Path(module.rsplit(":", 1)[0])
        distinct_outputs({"--module": module_file, "--weights": weights, "--data": data},
                         {"-o": output, **_run_json(run_dir, "export.json")})
        from toolchain.api import export as export_module
        from toolchain.data import read_dataset_file
        from toolchain.export import load_module

        x = None
        if data is not None:
            x = read_dataset_file(data, label).x[:samples]
        model = load_module(module, weights)
        with step(f"exporting {module} and checking torch = QONNX"):
            result = export_module(model, input_shape, output, x=x, samples=samples, seed=seed,
                                   calibrate=x if calibrate else None).result
        save(run_dir, "export", result, output)
    emit(result, as_json, f"{output}: {result['mismatches']} mismatches on {result['samples']} samples")


@app.command()
def lower(
    model: Path = typer.Argument(..., help="QONNX model from `hil export`.", parser=T.InputFile("an .onnx model")),
    output: Path = typer.Option(..., "-o", "--output", help="dataflow.onnx to write (only if bit-exact).",
                                parser=T.OutputFile(".onnx")),
    folding: Optional[Path] = typer.Option(None, "--folding", help="FINN-format folding JSON: our node names "
                                           "or FINN's (a FINN handoff's folding_config.json, finn-plus's "
                                           "auto_folding_config.json).", parser=T.InputFile("a JSON file")),
    target_fps: Optional[float] = typer.Option(None, "--target-fps", help="Fold for this frame rate (FINN "
                                                                          "SetFolding); refused when no folding "
                                                                          "reaches it.", parser=POSITIVE),
    part: Optional[str] = typer.Option(None, "--part", help="FPGA part or board (with --target-fps: fold to fit)."),
    clock_ns: Optional[float] = typer.Option(None, "--clock-ns", help="Clock period in ns (default 10).",
                                             parser=POSITIVE),
    label_select: bool = typer.Option(False, "--label-select", help="End in a LabelSelect (top-1 class index)."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="Verification inputs .npy (N, ...) for the "
                                                                 "source model.", parser=T.InputFile("a .npy file")),
    recipe: Optional[str] = typer.Option(None, "--recipe", help="Verify on this zoo recipe's data instead."),
    samples: int = typer.Option(500, "--samples", help="Verification samples (recipe data or random inputs).",
                                parser=SAMPLES),
    run_dir: Optional[Path] = RUN_DIR,
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
    distinct_outputs({"MODEL": model, "--folding": folding, "--inputs": inputs},
                     {"-o": output, **_run_json(run_dir, "lower.json")})
    from toolchain.defaults import DEFAULT_CLOCK_NS
    from toolchain.inputs import load_inputs
    from toolchain.lower import lower_file, parse_scale

    scale = None if input_scale is None else parse_scale(input_scale)
    x = load_inputs(inputs) if inputs is not None else None
    with step(f"lowering {model} and checking dataflow = QONNX"):
        result = lower_file(model, output, inputs=x, recipe=recipe, samples=samples, folding=folding,
                            target_fps=target_fps, clock_ns=DEFAULT_CLOCK_NS if clock_ns is None else clock_ns,
                            part=part, label_select=label_select, strict=strict, input_type=input_type,
                            input_scale=scale)
    save(run_dir, "lower", result, output, model)
    if not T.inside(model, output.parent):
        log.warning(f"note: {model} lies outside the folder of {output}; `hil emulate --inputs` and "
                    f"`hil build --backend finn` will need --source {model}")
    target = None
    if target_fps is not None:  # FINN's SetFolding folds as far as it can without saying; hil says
        from toolchain.lower import target_report
        from toolchain.onnxio import load_model as _load

        target = target_report(_load(output), target_fps, result["clock_ns"])
    if target is not None and not target["met"]:
        log.warning(f"warning: --target-fps {target_fps:g} is not met: the fastest folding reaches "
                    f"{target['achieved_fps']:,.0f} fps (bottleneck {target['bottleneck']}, "
                    f"{target['achieved_cycles']} cycles per frame)")
    emit(result, as_json, f"{output}: {sum(result['nodes'].values())} nodes, {result['mismatches']} mismatches, "
                          f"{result['ties']} ties on {result['samples']} samples, label agreement "
                          f"{result['label_agreement']:.4f}")


@app.command()
def estimate(
    model: Path = typer.Argument(..., help="dataflow.onnx from `hil lower`, or a QONNX model (lowered first).",
                                 parser=T.InputFile("an .onnx model")),
    folding: Optional[Path] = typer.Option(None, "--folding", help="FINN-format folding JSON (our or FINN's node "
                                           "names): estimate that folding instead. A what-if: in a `hil train` run "
                                           "folder it is saved beside the run's estimate.json as "
                                           "estimate_<folding file name>.json, never over it (estimate.json, which "
                                           "`hil report` reads, stays the estimate of the design the run built, as "
                                           "a FINN build or hls4ml project keeps its own reports); --run-dir DIR "
                                           "still writes DIR/estimate.json.", parser=T.InputFile("a JSON file")),
    part: Optional[str] = typer.Option(None, "--part", help="FPGA part or board (default xc7z020clg400-1, Pynq-Z2)."),
    clock_ns: Optional[float] = typer.Option(None, "--clock-ns", help="Clock period in ns (default: the part's).",
                                             parser=POSITIVE),
    cost: T.Cost = typer.Option(T.Cost.FINN, "--cost", help="Resource model: finn (FINN's formulas, equal to "
                                                            "finn-plus 1.6.1 on every op it has) | calibrated "
                                                            "(weight-aware) | synth (Yosys' numbers, with --rtl)."),
    rtl: Optional[Path] = typer.Option(None, "--rtl", help="With --cost synth: the RTL project (`hil build --backend "
                                                           "rtl`) on which `hil synth` ran.", parser=T.ExistingDir()),
    impl: T.Impl = typer.Option(T.Impl.HLS, "--impl", help="With --cost calibrated: hls (FINN's HLS kernels, Vivado) "
                                                           "| rtl (`--backend rtl`'s templates, Yosys)."),
    run_dir: Optional[Path] = RUN_DIR,
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as one JSON object."),
) -> None:
    """Analytic cycles, throughput, latency and LUT/FF/DSP/BRAM/URAM per layer (FINN-exact).

    Examples: hil estimate dataflow.onnx --part Pynq-Z2 --json ;
    hil estimate model.onnx --folding folding.json --part ZCU104 --clock-ns 5
    (exit 2 when the design does not fit the part; --json still prints the numbers)
    """
    _run_dir(run_dir)
    distinct_outputs({"MODEL": model, "--folding": folding}, _run_json(run_dir, "estimate.json"))
    from toolchain.estimate import summary, summary_line
    from toolchain.onnxio import load_model
    from toolchain.pipeline import estimate_model

    result = estimate_model(load_model(model), part=part, clock_ns=clock_ns, cost=cost.value, folding=folding,
                            rtl_dir=rtl, impl=impl.value)
    # complete even when the design does not fit; a what-if folding found its own file (--folding's help)
    save(run_dir, "estimate" if folding is None or run_dir is not None else what_if_name(folding), result, model)
    emit(result, as_json, summary(result))
    if not result["fits"]:
        raise UserError(f"design does not fit {result['part']}: {summary_line(result)}")


def what_if_name(folding: Path) -> str:
    """estimate_<folding file stem>, in file-name-safe characters: the what-if estimate's verb file."""
    import re

    return "estimate_" + (re.sub(r"[^A-Za-z0-9._-]", "_", folding.stem) or "folding")


@app.command()
def emulate(
    model: Path = typer.Argument(..., help="dataflow.onnx from `hil lower`.", parser=T.InputFile("an .onnx model")),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="Inputs .npy (N, ...) of the source model: "
                                                                 "bit-exact values and mismatches.",
                                          parser=T.InputFile("a .npy file")),
    frames: Optional[int] = typer.Option(None, "--frames", help="Frames to time (default 3).",
                                         parser=T.count(1, T.MAX_FRAMES)),
    size_fifos: bool = typer.Option(False, "--size-fifos", help="Size every FIFO by simulation and prove it."),
    dma_bits: Optional[int] = typer.Option(None, "--dma-bits", help="Input DMA width in bits (Pynq 64, "
                                                                    "ZynqMP 128, Alveo 512).",
                                           parser=T.count(1, T.MAX_DMA_BITS)),
    clock_ns: Optional[float] = typer.Option(None, "--clock-ns", help="Clock period for fps (default 10).",
                                             parser=POSITIVE),
    fifo_depths: Optional[Path] = typer.Option(None, "--fifo-depths", help="JSON FIFO name -> depth overrides.",
                                               parser=T.InputFile("a JSON file")),
    rounding: T.Rounding = typer.Option(T.Rounding.EXACT, "--rounding", help="Sized depths: exact (high-water mark, "
                                                                             ">= 2) or finn (<=2 -> 2, <=32 -> 32)."),
    write_model: Optional[Path] = typer.Option(None, "--write-model", help="With --size-fifos: save the "
                                                                           "model with the chosen depths.",
                                               parser=T.OutputFile(".onnx")),
    shrink: bool = typer.Option(False, "--shrink", help="With --size-fifos: search each FIFO down to the "
                                                        "smallest depth that keeps the interval (slower)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the outputs (.npy).",
                                          parser=T.OutputFile(".npy")),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help=RUN_DIR_HELP + " Also writes "
                                                                  "emulate_timeline.json (the report's plots).",
                                           parser=T.OutputDir()),
    impl: T.Impl = typer.Option(T.Impl.HLS, "--impl", help="Timing profile: hls (finn-hlslib pipelines) | rtl (the "
                                                           "--backend rtl templates, cycle-exact against Verilator)."),
    source: Optional[Path] = SOURCE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Cycle-accurate, RTL-free emulation: latency, interval, stalls, FIFO depths, deadlock, values.

    Examples: hil emulate dataflow.onnx --json ;
    hil emulate dataflow.onnx --inputs x.npy --size-fifos --dma-bits 64 -o y.npy
    (exit 3 when the design deadlocks)
    """
    _run_dir(run_dir)
    distinct_outputs({"MODEL": model, "--inputs": inputs, "--fifo-depths": fifo_depths, "--source": source},
                     {"-o": output, "--write-model": write_model,
                      **_run_json(run_dir, "emulate.json", "emulate_timeline.json")})
    from toolchain.emulate import EmulationDeadlock, emulate as run, summary
    from toolchain.report.rundir import run_folder

    try:
        result = run(model, inputs=inputs, frames=frames, size=size_fifos, dma_bits=dma_bits, clock_ns=clock_ns,
                     output=output, fifo_depths=fifo_depths, rounding=rounding.value, write_model=write_model,
                     shrink=shrink, run_dir=_run_dir(run_dir) or run_folder(model), impl=impl.value, source=source)
    except EmulationDeadlock as err:
        if as_json:
            emit(err.result, True, "")
        raise
    emit(result, as_json, summary(result))


@app.command()
def build(
    model: Path = typer.Argument(..., help="dataflow.onnx from `hil lower` (a QONNX model is lowered first).",
                                 parser=T.InputFile("an .onnx model")),
    backend: Backend = typer.Option(Backend.HLS4ML, "--backend", help="hls4ml (HLS C++ project) | finn (FINN "
                                                                          "handoff) | rtl (SystemVerilog project)."),
    output: Path = typer.Option(..., "-o", "--output", help="Project folder to write (replaced atomically).",
                                parser=T.OutputDir()),
    csim: int = typer.Option(0, "--csim", help="hls4ml: compile the C-simulation with g++ and compare N random "
                                               "samples with the emulator.", parser=T.count(0, T.MAX_SAMPLES)),
    cosim: int = typer.Option(0, "--cosim", help="rtl: co-simulate N random samples with Verilator and compare "
                                                 "values, every handshake cycle and FIFO high-water marks with the "
                                                 "emulator (rtl timing profile).", parser=T.count(0, T.MAX_SAMPLES)),
    folding: Optional[Path] = typer.Option(None, "--folding", help="FINN-format folding JSON applied first.",
                                           parser=T.InputFile("a JSON file")),
    part: Optional[str] = typer.Option(None, "--part", help="FPGA part or board (default: the model's, else "
                                                           "xc7z020clg400-1)."),
    clock_ns: Optional[float] = typer.Option(None, "--clock-ns", help="Clock period in ns (default: the model's, "
                                                                      "else the part's).", parser=POSITIVE),
    hls_backend: T.HlsBackend = typer.Option(T.HlsBackend.VITIS, "--hls-backend", help="hls4ml backend.",
                                             case_sensitive=False),
    seed: int = typer.Option(0, "--seed", help="Seed of the C-sim / test-bench samples.", parser=SEED),
    source: Optional[Path] = SOURCE,
    run_dir: Optional[Path] = RUN_DIR,
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """HLS project (hls4ml, exact integer types, reuse factors from the folding) or FINN handoff.

    Examples: hil build dataflow.onnx --backend hls4ml -o prj --csim 1000 --json ;
    hil build dataflow.onnx --backend finn -o finn_handoff ;
    hil build dataflow.onnx --backend rtl -o rtl_prj --cosim 1000 --json
    (exit 2, nothing written, when a node cannot be expressed exactly or a needed tool is missing)
    """
    _run_dir(run_dir)
    distinct_outputs({"MODEL": model, "--folding": folding, "--source": source},
                     {"-o": output, **_run_json(run_dir, "build.json")}, folders=["-o"])
    from toolchain.backends import summary
    from toolchain.pipeline import build as run

    with step(f"building the {backend.value} project {output}"):
        result = run(model, backend.value, output, folding=folding, part=part, clock_ns=clock_ns, csim=csim,
                     hls_backend=hls_backend.value, seed=seed, cosim=cosim, source=source)
    save(run_dir, "build", result, model)
    emit(result, as_json, summary(result))


@app.command()
def synth(
    project: Path = typer.Argument(..., help="RTL project folder from `hil build --backend rtl`.",
                                   parser=T.ExistingDir()),
    part: Optional[str] = typer.Option(None, "--part", help="FPGA part or board (default xc7z020clg400-1, Pynq-Z2)."),
    flatten: bool = typer.Option(False, "--flatten", help="Also synthesize the whole top flattened (its total)."),
    jobs: int = typer.Option(2, "--jobs", help="Yosys processes in parallel.", parser=T.count(1, 64)),
    run_dir: Optional[Path] = RUN_DIR,
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
    run_dir: Path = typer.Argument(..., help="A run folder (from `hil demo` or your own stages).",
                                   parser=T.ExistingDir()),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Write RUN_DIR/report.html: per-layer cycles, pipeline timeline, FIFO occupancy, utilization.

    Example: hil report runs/demo
    """
    T.check_writable(run_dir / "report.html", "RUN_DIR")
    from toolchain.report.html import report_result, write_report

    with step(f"drawing {run_dir}/report.html"):
        out = T.reading_run_files(run_dir, write_report)
    emit(report_result(out), as_json, f"wrote {out}")


@app.command()
def sweep(
    sweep_file: Path = typer.Argument(..., help="Sweep YAML: recipe, space, objectives, constraints, search.",
                                      parser=T.InputFile("a sweep YAML file")),
    out: Path = typer.Option(..., "-o", "--out", help="Run folder: study.db (resumable), trials/, summary.json.",
                             parser=T.OutputDir()),
    workers: int = typer.Option(1, "--workers", help="Local worker processes (1: in this process).",
                                parser=T.count(1, T.MAX_WORKERS)),
    executor: Optional[str] = typer.Option(None, "--executor", help="Where trials run (default local).",
                                           parser=T.executor, metavar="<local|dask://HOST:PORT>"),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL (default sqlite in -o)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Hardware-aware design-space exploration (Optuna): bits x pruning x folding, estimate before training.

    Example: hil sweep examples/sweep-digits.yaml -o runs/sweep --workers 2 ; hil pareto runs/sweep
    (run the same command again to resume a killed sweep)
    """
    _run_dir(out)
    distinct_outputs({"SWEEP_FILE": sweep_file}, {f"-o file {n}": out / n for n in ("study.db", "summary.json")})
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
                          f"before training (trainings saved), {result['pruned_early']} pruned on the epoch curve "
                          f"({result['epochs_saved']} of {result['epochs_budget']} epochs saved), "
                          f"{result['infeasible']} infeasible, {result['failed']} failed, {result['reused']} "
                          f"reused an earlier trial's point -> {out} (hil pareto {out})")


@app.command()
def pareto(
    run: Path = typer.Argument(..., help="Run folder of `hil sweep`.", parser=T.ExistingDir()),
    no_plot: bool = typer.Option(False, "--no-plot", help="Skip RUN/pareto.png."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """The sweep's non-dominated trials: table, RUN/pareto.png, and the command that rebuilds each.

    Example: hil pareto runs/sweep
    """
    if not no_plot:
        T.check_writable(run / "pareto.png", "RUN")
    from toolchain.sweep.pareto import pareto as front, table

    result = front(run, plot=not no_plot)
    emit(result, as_json, table(result))


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder.", parser=T.OutputDir()),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
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


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _param_name(err) -> str:
    """The option as typed (--run-dir) or the argument's name (MODEL) a bad value was given for."""
    param = getattr(err, "param", None)
    if param is None:
        return str(getattr(err, "param_hint", None) or "value")
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(getattr(param, "opts", []))
    if getattr(param, "param_type_name", "") == "argument" or not opts:
        return str(param.name or "value").upper()
    return max(opts, key=len)


def main(argv: Optional[list[str]] = None) -> None:
    """`hil`: click runs without its standalone mode, so that every refusal is printed here the same
    way: one line `error: ...` on stderr and exit 2 (3 for a deadlock), never click's framed box or a
    traceback. A usage error names the --help to read."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="hil", standalone_mode=False)
    except cx.NoArgsIsHelpError as err:  # bare `hil`: the help, as before
        typer.echo(err.ctx.get_help() if err.ctx else "")
        sys.exit(0)
    except cx.BadParameter as err:  # "--clock-ns 'nan' is not a finite number", from cli_types or an Enum
        where = err.ctx.command_path if err.ctx is not None else "hil"
        message = _one_line(err.message).replace("Value error, ", "")  # pydantic's prefix
        typer.echo(f"error: {_param_name(err)} {message} (see `{where} --help`)", err=True)
        sys.exit(2)
    except cx.UsageError as err:
        where = err.ctx.command_path if err.ctx is not None else "hil"
        message = _one_line(err.format_message()).replace("Value error, ", "")  # pydantic's prefix
        typer.echo(f"error: {message} (see `{where} --help`)", err=True)
        sys.exit(2)
    except cx.ClickException as err:  # e.g. a file click could not open
        typer.echo(f"error: {_one_line(err.format_message())}", err=True)
        sys.exit(2)
    except typer.Abort as err:  # click turns an EOFError escaping a verb into Abort
        cause = f" ({type(err.__cause__).__name__})" if err.__cause__ is not None else ""
        typer.echo(f"error: aborted: unexpected end of input{cause}", err=True)
        sys.exit(2)
    except UserError as err:
        typer.echo(f"error: {_one_line(err)}", err=True)
        sys.exit(err.exit_code)
    except ImportError as err:
        message = missing_extra(err)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        sys.exit(UserError.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
