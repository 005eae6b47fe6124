"""`hil run` and `hil serve`: the verbs of toolchain.targets, registered on the `hil` app by
toolchain/cli.py (`register(app)`), with the same conventions as its other verbs (--json, --run-dir,
exit 2 with one line on bad input). It imports nothing from toolchain.cli (no import cycle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from toolchain.errors import UserError

TOKEN_HELP = "File holding the agent's shared token (one line); default: the HIL_TOKEN environment variable."


def run(
    design: Path = typer.Argument(..., help="dataflow.onnx from `hil lower`."),
    inputs: Path = typer.Option(..., "--inputs", help="Inputs .npy (N, ...): the source model's raw inputs, as "
                                                      "`hil emulate --inputs` takes them."),
    target: str = typer.Option("emulator", "--target", help="emulator | csim | tcp://HOST:PORT (a `hil serve` "
                                                            "agent)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the outputs (.npy) instead of printing them."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help=TOKEN_HELP),
    batch: int = typer.Option(1000, "--batch", help="Samples per request to the target."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Also write the --json object to "
                                                                   "RUN_DIR/run.json (for `hil report RUN_DIR`)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Run inputs on a target (emulator, C-sim or a board agent): outputs, mismatches against the local
    emulator, timing.

    Examples: hil run dataflow.onnx --inputs x.npy --target csim --json ;
    HIL_TOKEN=... hil run dataflow.onnx --inputs x.npy --target tcp://pynq:7800 --out y.npy
    (exit 1 when the target's outputs differ from the local emulator's)
    """
    from toolchain.targets import read_token
    from toolchain.targets.run import run_design, summary

    if run_dir is not None and run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--run-dir {run_dir} exists and is not a folder")
    token = read_token(token_file, required=False) if target.startswith("tcp://") else None
    result = run_design(design, inputs, target, token=token, out=out, batch=batch)
    if run_dir is not None:
        from toolchain.fileio import write_json

        write_json(run_dir / "run.json", json.loads(json.dumps(result, default=float)))
    typer.echo(json.dumps(result, default=float) if as_json else summary(result))
    if result["mismatches"]:
        typer.echo(f"error: {target} differs from the local emulator on {result['mismatches']} of "
                   f"{result['samples']} samples", err=True)
        raise typer.Exit(1)


def serve(
    target: str = typer.Option("emulator", "--target", help="emulator | csim | pynq (the board, with --deploy)."),
    port: int = typer.Option(7800, "--port", help="TCP port (0: any free port, printed)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default loopback only; the "
                                                         "token is not encryption: use a trusted link or a tunnel)."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help=TOKEN_HELP),
    deploy: Optional[Path] = typer.Option(None, "--deploy", help="pynq: FINN's deploy folder (bitfile/, driver/)."),
    max_bytes: int = typer.Option(64 * 1024 * 1024, "--max-bytes", help="Largest request payload in bytes."),
    request_timeout: float = typer.Option(30.0, "--request-timeout", help="Seconds a request may take to arrive, "
                                                                          "first byte to last."),
    idle_timeout: float = typer.Option(300.0, "--idle-timeout", help="Seconds a connection may stay idle."),
    max_connections: int = typer.Option(8, "--max-connections", help="Connections served at once."),
) -> None:
    """The board agent: answer `hil run --target tcp://HOST:PORT` for this machine's target.

    Examples: HIL_TOKEN=$(cat token) hil serve --target emulator --port 7800 ;
    hil serve --target pynq --deploy output/deploy --host 0.0.0.0 --token-file token
    """
    from toolchain.targets import SERVED, make_target, read_token
    from toolchain.targets.agent import Agent
    from toolchain.targets.protocol import Limits

    if target not in SERVED:
        raise UserError(f"--target must be one of {', '.join(SERVED)}, got {target!r}")
    if not 0 <= port < 65536:
        raise UserError(f"--port must be in 0..65535, got {port}")
    if max_bytes < 1024 or max_bytes > 1 << 34:
        raise UserError(f"--max-bytes must be in 1024..{1 << 34}, got {max_bytes}")
    for name, value in (("--request-timeout", request_timeout), ("--idle-timeout", idle_timeout)):
        if not 0 < value <= 86400:
            raise UserError(f"{name} must be in (0, 86400] seconds, got {value}")
    if not 1 <= max_connections <= 1024:
        raise UserError(f"--max-connections must be in 1..1024, got {max_connections}")
    make_target(target, deploy=deploy)  # refuses now (pynq missing, no --deploy), not at the first request
    if target == "csim":
        import hls4ml  # noqa: F401 - a missing 'hls' extra is refused now (toolchain.cli.main names it)
    token = read_token(token_file, required=True)
    agent = Agent(lambda: make_target(target, deploy=deploy), target, token,
                  Limits(max_bytes=max_bytes, request_timeout=request_timeout, idle_timeout=idle_timeout),
                  max_connections=max_connections)
    server = agent.bind(host, port)
    bound = server.getsockname()
    typer.echo(f"hil serve: {target} agent listening on {bound[0]}:{bound[1]} (protocol v1)")
    if host not in ("127.0.0.1", "::1", "localhost"):
        typer.echo("hil serve: not loopback: the token authenticates but is sent in clear (docs/targets.md §3)",
                   err=True)
    import sys

    sys.stdout.flush()
    try:
        agent.serve(server)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(serve)
