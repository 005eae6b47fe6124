"""The backends' refusal: a construct a backend cannot express exactly (exit 2, nothing written)."""

from __future__ import annotations

from toolchain.errors import UserError


class BackendRefusal(UserError):
    """A construct the backend cannot express exactly; the message names node, construct and fix."""


def refuse(node: str, construct: str, fix: str) -> BackendRefusal:
    return BackendRefusal(f"{node}: {construct} is not expressible in hls4ml; {fix}")
