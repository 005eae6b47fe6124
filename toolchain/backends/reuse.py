"""Reuse factor of an hls4ml Dense/Conv from the MVAU folding, and hls4ml's validity rule for it.

RF = (MW/SIMD)·(MH/PE): the cycles per input vector of the folded MVAU. RF 1 -> Latency strategy; RF > 1 ->
Resource strategy where hls4ml accepts that RF, else a refusal listing the closest foldings it accepts
(hls4ml would otherwise silently pick another RF, reference/hls4ml.md §6 #9).
"""

from __future__ import annotations

import math

from toolchain.backends.refusal import refuse


def resource_rf_valid(n_in: int, n_out: int, rf: int) -> bool:
    """hls4ml 1.3.0 backends/fpga/fpga_backend.py:_validate_reuse_factor (reference/hls4ml.md §3)."""
    mult_limit = math.ceil(n_in * n_out / min(n_in, rf))
    ok = (mult_limit % n_out == 0) or rf >= n_in
    ok = ok and (rf % n_in == 0 or rf < n_in)
    return ok and (n_in * n_out) % rf == 0


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def closest_foldings(mw: int, mh: int, rf: int, n: int = 3) -> list[tuple[int, int, int]]:
    """(PE, SIMD, RF) foldings of an MW x MH MVAU that hls4ml accepts, closest to reuse factor rf."""
    options = []
    for pe in _divisors(mh):
        for simd in _divisors(mw):
            r = (mw // simd) * (mh // pe)
            if r == 1 or resource_rf_valid(mw, mh, r):
                options.append((abs(math.log(r / rf)), -pe * simd, pe, simd, r))
    options.sort()
    seen, out = set(), []
    for _, _, pe, simd, r in options:
        if r not in seen:
            seen.add(r)
            out.append((pe, simd, r))
        if len(out) == n:
            break
    return out


def reuse_and_strategy(node: str, mw: int, mh: int, pe: int, simd: int) -> tuple[int, str]:
    """(reuse factor, hls4ml strategy) of an MVAU folding, or a refusal with the closest accepted foldings."""
    rf = (mw // simd) * (mh // pe)
    if rf == 1:
        return 1, "Latency"
    if resource_rf_valid(mw, mh, rf):
        return rf, "Resource"
    alts = ", ".join(f"PE={p} SIMD={s} (reuse factor {r})" for p, s, r in closest_foldings(mw, mh, rf))
    raise refuse(node, f"the folding PE={pe}, SIMD={simd} (reuse factor {rf} for a {mw}x{mh} layer; hls4ml's "
                       "Resource strategy needs rf < n_in with n_out | ceil(n_in*n_out/rf), or n_in | rf, "
                       "and rf | n_in*n_out)", f"choose a folding such as {alts}")
