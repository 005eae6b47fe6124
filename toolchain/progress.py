"""Progress for the steps that take seconds (lowering and its check, export, C-sim compile, report):
a rich spinner on stderr naming the step, shown only on a terminal and not under `hil -q`.

    with step("lowering and verifying"):
        ...
        with step("C-sim: g++"):      # nested: the same spinner shows the inner step, then the outer again
            ...

One spinner at a time (rich allows one live display): a nested step relabels the active one. Verbs
that draw their own bars (train's epochs, emulate's value chunks) are not wrapped.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Iterator, Optional

_active: Optional[object] = None  # the rich Status being shown


def _wanted() -> bool:
    return sys.stderr.isatty() and logging.getLogger("hil").getEffectiveLevel() <= logging.WARNING


@contextmanager
def step(text: str) -> Iterator[None]:
    global _active
    if _active is not None:
        previous = getattr(_active, "status", "")
        _active.update(text)
        try:
            yield
        finally:
            _active.update(previous)
        return
    if not _wanted():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(text) as status:
        _active = status
        try:
            yield
        finally:
            _active = None
