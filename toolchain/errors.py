"""User-facing errors: the CLI prints their message on one line and exits with their code."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (file, recipe, option, model). Exit code 2, never a traceback."""

    exit_code = 2


class DeadlockError(UserError):
    """The emulated design deadlocks. Exit code 3 (hil emulate)."""

    exit_code = 3
