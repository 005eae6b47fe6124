"""Reuse factor of an hls4ml Dense/Conv from the MVAU folding, and hls4ml's validity rule for it.

RF = (MW/SIMD)·(MH/PE): the cycles per input vector of the folded MVAU. RF 1 -> Latency strategy; RF > 1 ->
Resource strategy where hls4ml accepts that RF, else the Latency strategy at the same RF, which hls4ml
accepts for any RF (its multiplier allocation limit rounds, docs/hls4ml.md §3) — FINN's SetFolding
often picks such RFs, and both strategies compute the same numbers. The RF is never changed silently
(hls4ml's own Resource validation would pick another one, §6 #9).
"""

from __future__ import annotations

import math


def resource_rf_valid(n_in: int, n_out: int, rf: int) -> bool:
    """hls4ml 1.3.0 backends/fpga/fpga_backend.py:_validate_reuse_factor (docs/hls4ml.md §3)."""
    mult_limit = math.ceil(n_in * n_out / min(n_in, rf))
    ok = (mult_limit % n_out == 0) or rf >= n_in
    ok = ok and (rf % n_in == 0 or rf < n_in)
    return ok and (n_in * n_out) % rf == 0


def reuse_and_strategy(node: str, mw: int, mh: int, pe: int, simd: int) -> tuple[int, str]:
    """(reuse factor, hls4ml strategy) of an MVAU folding."""
    rf = (mw // simd) * (mh // pe)
    return rf, "Resource" if rf > 1 and resource_rf_valid(mw, mh, rf) else "Latency"
