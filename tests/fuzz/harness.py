"""Running `hil` in this process, as a user's shell would, and checking that a refusal is clean.

`run_in_process(args)` calls toolchain.cli.main with sys.argv patched and stdout/stderr captured:
the same code path as the installed `hil` script (tests/fuzz/test_corpus.py proves it on a few
cases against a real subprocess), without paying Python's and torch's import time per case.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


class CaseTimeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: int):
    def fire(signum, frame):
        raise CaseTimeout(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_in_process(args: list[str], cwd: Path, timeout: int = 120) -> Outcome:
    """`hil ARGS` in this process: exit code, stdout, stderr (an escaping exception is printed as
    the interpreter would print it, and counts as exit code 1)."""
    from toolchain.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["hil", *args]
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _alarm(timeout):
            try:
                main()
            except SystemExit as exc:
                if exc.code is None:
                    code = 0
                elif isinstance(exc.code, int):
                    code = exc.code
                else:  # sys.exit("message"): printed on stderr, exit code 1
                    print(exc.code, file=sys.stderr)
                    code = 1
            except BaseException:  # noqa: B036 - what the interpreter would print before exiting 1
                traceback.print_exc(file=sys.stderr)
                code = 1
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return Outcome(code, out.getvalue(), err.getvalue())


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root (hidden ones included): kind, mode, and the content's hash for files."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if path.is_symlink():
                state[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                state[rel] = ("dir", st.st_mode)
            else:
                state[rel] = ("file", st.st_mode, hashlib.sha1(path.read_bytes()).hexdigest())
    return state


def refusal_problems(outcome: Outcome) -> list[str]:
    """What is wrong with `outcome` as a refusal: exit 2 (or the given code), exactly one stderr line,
    starting `error: `, no traceback."""
    problems = []
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    if outcome.code != 2:
        problems.append(f"exit code {outcome.code}, expected 2")
    if "Traceback" in outcome.stderr:
        problems.append("traceback on stderr")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines, expected 1")
    if not lines or not lines[0].startswith("error: "):
        problems.append("stderr does not start with 'error: '")
    return problems
