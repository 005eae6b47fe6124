"""Targets: one interface (toolchain.targets.base.Target) for the emulator, the hls4ml C-simulation, a
board agent over TCP and a PYNQ board. `hil run` asks any of them; `hil serve` makes a process (on a
board, or anywhere) answer for one of them (toolchain.targets.agent). docs/targets.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from toolchain.errors import UserError

LOCAL = ("emulator", "csim")
SERVED = ("emulator", "csim", "pynq")
TOKEN_ENV = "HIL_TOKEN"
MIN_TOKEN = 16  # characters: a short shared secret is guessable


def make_target(spec: str, *, token: Optional[str] = None, deploy: Optional[Path] = None,
                cache_dir: Optional[Path] = None):
    """The Target named by `spec`: emulator | csim | pynq | tcp://HOST:PORT (token: the agent's)."""
    if spec == "emulator":
        from toolchain.targets.emulator import EmulatorTarget

        return EmulatorTarget()
    if spec == "csim":
        from toolchain.targets.csim import CSimTarget

        return CSimTarget(cache_dir)
    if spec == "pynq":
        from toolchain.targets.pynq import PynqTarget

        return PynqTarget(deploy)
    if spec.startswith("tcp://"):
        from toolchain.targets.remote import RemoteTarget

        if token is None:
            raise UserError(f"--target {spec} needs the agent's token: --token-file PATH or {TOKEN_ENV}")
        return RemoteTarget(spec, token)
    raise UserError(f"--target must be emulator, csim or tcp://HOST:PORT, got {spec!r}")


def read_token(token_file: Optional[Path], required: bool) -> Optional[str]:
    """The shared token: --token-file (its first line), else $HIL_TOKEN; UserError when required and
    missing, or shorter than MIN_TOKEN characters."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise UserError(f"--token-file {token_file}: cannot read it ({err})") from None
        where = f"--token-file {token_file}"
    else:
        token = os.environ.get(TOKEN_ENV, "").strip() or None
        where = TOKEN_ENV
    if token is None:
        if required:
            raise UserError(f"a shared token is needed: --token-file PATH or the {TOKEN_ENV} environment variable")
        return None
    if len(token) < MIN_TOKEN or "\n" in token:
        raise UserError(f"{where}: the token must be one line of at least {MIN_TOKEN} characters "
                        "(e.g. python -c 'import secrets; print(secrets.token_hex(16))')")
    return token
