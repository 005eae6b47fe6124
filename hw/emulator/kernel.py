"""The compiled max-plus kernel (docs/timing.md §5.2, multi-rate form), evaluated by worklist.

Semantics (synchronous, integer cycles; the unit test restates them as per-cycle rules):
* A FIFO is registered: a word written in cycle t is readable from t+1; a slot freed by a read in
  cycle t is writable from t+1. Capacity C (or unbounded).
* A node issues its firings in order, at most one every II cycles. A firing reads one word from each
  input port its schedule names, all in the cycle it issues. A firing that writes creates one *write
  event*, which writes one word to each output port it names, all in one cycle, at least L cycles
  after the firing issued, at most one write event per cycle, in order. At most P write events may
  be outstanding (issued, not yet written; an event holds its slot in the cycle it is written).
* A source writes input word k no earlier than arrival(k) and gap(k) cycles after word k-1.

Recurrences (x: firing times, w: write-event times, r/t: FIFO read/write times of word k):
    x(f) = max( x(f-1) + II,  t_in(k_i(f)) + 1 for each port read,  w(e(f) - P) + 1 )
    w(e) = max( x(g(e)) + L,  w(e-1) + 1,  r_out(k_p(e) - C_p) + 1 for each port written )
Idle firings (neither read nor write) only chain by II, so only *active* firings are visited.

Each node keeps a firing pointer and a write pointer and advances whichever has all its operands
known; a worklist revisits a node only after one of its FIFO neighbours moved. No node left to visit
while values remain is a deadlock: the per-node block records (which FIFO is empty or full) name the
waiting cycle.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SOURCE = 1

# node parameter columns (int64 array `nd`)
KIND, II, LAT, PINF, AOFF, ACNT, PERIOD, REPEATS, ROFF, RLEN, SRC_OFF = range(11)
N_ND = 11
# node state columns (`st`)
FJ, XPREV, PGF, WEF, WED, WLAST, STALL_IN, STALL_OUT, WBLOCK, FBK, FBE, WBE, NFIRE, CA, CREP, CFRAME = range(16)
N_ST = 16
# edge columns (`ed`)
CAP, OFF, NTOK, WR, RD = range(5)
N_ED = 5
# fire block kinds
BLK_NONE, BLK_EMPTY, BLK_INFLIGHT, BLK_FULL = 0, 1, 2, 3


# Below this many active firings (all nodes, all frames) the kernel runs as plain Python: the same
# function, interpreted (~50 us a firing), instead of numba's, whose first call in a process costs
# ~1 s of numba import and cache load (a fresh `hil emulate --frames 1` of an MLP fires a few hundred
# times). tests/unit/test_timing_engine.py checks both paths leave identical state.
PY_MAX_FIRINGS = 5_000


def run_kernel(order, nd, st, ed, in_edge, out_edge, act_pos, act_rm, act_wm, tw, tr,
               src_arr, src_gap, xr, mr, wr_ring, ffirst, flast, frames, nbr_off, nbr, jit=None):
    """Evaluate every event (kernel below); returns 0 when all are computed, 1 on deadlock. `jit`:
    True for numba, False for the interpreted kernel, None to choose by the firing count."""
    if jit is None:
        jit = firings(nd, frames) > PY_MAX_FIRINGS
    kernel = _jitted() if jit else _kernel
    return kernel(order, nd, st, ed, in_edge, out_edge, act_pos, act_rm, act_wm, tw, tr,
                  src_arr, src_gap, xr, mr, wr_ring, ffirst, flast, frames, nbr_off, nbr)


def firings(nd: np.ndarray, frames: int) -> int:
    """Active firings the kernel visits: every node's active positions x repeats x frames."""
    return int((nd[:, ACNT] * nd[:, REPEATS]).sum()) * frames


@lru_cache(maxsize=1)
def _jitted():
    """The numba-compiled kernel, imported and loaded (or compiled and cached) on first use only."""
    from numba import njit

    return njit(cache=True)(_kernel)


def _kernel(order, nd, st, ed, in_edge, out_edge, act_pos, act_rm, act_wm, tw, tr,
            src_arr, src_gap, xr, mr, wr_ring, ffirst, flast, frames, nbr_off, nbr):
    """Evaluate every event; returns 0 when all are computed, 1 on deadlock (state left as blocked).

    Worklist: a stack of nodes to visit (each at most once on it). A visited node advances its
    firing pointer and write pointer as far as their operands allow; if it moved, its FIFO
    neighbours (whose operands it may have supplied) are pushed. An empty stack with values left is
    a deadlock. One function on purpose: numba reference-counts every array passed to a helper call,
    which cost 70 % of the run time when fire/write were helpers."""
    n = nd.shape[0]
    stack = np.empty(n, dtype=np.int64)
    queued = np.ones(n, dtype=np.bool_)
    top = 0
    for i in range(order.shape[0] - 1, -1, -1):  # pop in `order`
        stack[top] = order[i]
        top += 1
    while top > 0:
        top -= 1
        v = stack[top]
        queued[v] = False
        is_src = nd[v, KIND] == SOURCE
        ii, lat, pinf = nd[v, II], nd[v, LAT], nd[v, PINF]
        acnt, reps, period, aoff = nd[v, ACNT], nd[v, REPEATS], nd[v, PERIOD], nd[v, AOFF]
        roff, rmask, so = nd[v, ROFF], nd[v, RLEN] - 1, nd[v, SRC_OFF]
        total = acnt * reps * frames
        moved = False
        while True:
            step = False
            # ---------------- firings: x(f) = max(x(f-1)+II, input words + 1, w(e-P) + 1)
            while True:
                j = st[v, FJ]
                if j >= total:
                    st[v, FBK] = BLK_NONE
                    break
                frame, rep, a = st[v, CFRAME], st[v, CREP], st[v, CA]
                idx = aoff + a
                gf = (frame * reps + rep) * period + act_pos[idx]
                if is_src:
                    base = src_arr[so + j]
                    if j > 0 and st[v, XPREV] + src_gap[so + j] > base:
                        base = st[v, XPREV] + src_gap[so + j]
                else:
                    base = st[v, XPREV] + ii * (gf - st[v, PGF])
                t = base
                why = 0
                blocked = False
                rm = act_rm[idx]
                p = 0
                while (rm >> p) != 0:
                    if (rm >> p) & 1:
                        e = in_edge[v, p]
                        k = ed[e, RD]
                        if k >= ed[e, WR]:
                            st[v, FBK] = BLK_EMPTY
                            st[v, FBE] = e
                            blocked = True
                            break
                        cand = tw[ed[e, OFF] + k] + 1
                        if cand > t:
                            t = cand
                            why = 1
                    p += 1
                if blocked:
                    break
                wm = act_wm[idx]
                ev = st[v, WEF]
                if is_src:  # the source's firing is its write: it needs a free slot
                    e = out_edge[v, 0]
                    c = ed[e, CAP]
                    k = ed[e, WR]
                    if c >= 0 and k >= c:
                        if k - c >= ed[e, RD]:
                            st[v, FBK] = BLK_FULL
                            st[v, FBE] = e
                            break
                        cand = tr[ed[e, OFF] + k - c] + 1
                        if cand > t:
                            t = cand
                            why = 2
                    tw[ed[e, OFF] + k] = t
                    ed[e, WR] = k + 1
                elif wm != 0 and ev >= pinf:
                    if ev - pinf >= st[v, WED]:
                        st[v, FBK] = BLK_INFLIGHT
                        st[v, FBE] = -1
                        break
                    cand = wr_ring[roff + ((ev - pinf) & rmask)] + 1
                    if cand > t:
                        t = cand
                        why = 2
                # commit the firing
                p = 0
                while (rm >> p) != 0:
                    if (rm >> p) & 1:
                        e = in_edge[v, p]
                        k = ed[e, RD]
                        tr[ed[e, OFF] + k] = t
                        ed[e, RD] = k + 1
                    p += 1
                if wm != 0 and not is_src:
                    slot = roff + (ev & rmask)
                    xr[slot] = t
                    mr[slot] = wm
                    st[v, WEF] = ev + 1
                if why == 1:
                    st[v, STALL_IN] += t - base
                elif why == 2:
                    st[v, STALL_OUT] += t - base
                if rep == 0 and a == 0:
                    ffirst[v, frame] = t
                flast[v, frame] = t
                st[v, XPREV] = t
                st[v, PGF] = gf
                st[v, FJ] = j + 1
                st[v, NFIRE] += 1
                a += 1
                if a == acnt:
                    a = 0
                    rep += 1
                    if rep == reps:
                        rep = 0
                        frame += 1
                st[v, CA] = a
                st[v, CREP] = rep
                st[v, CFRAME] = frame
                st[v, FBK] = BLK_NONE
                step = True
            # ---------------- write events: w(e) = max(x+L, w(e-1)+1, reads of word k-C + 1)
            while True:
                ev = st[v, WED]
                if ev >= st[v, WEF]:
                    break
                slot = roff + (ev & rmask)
                t = xr[slot] + lat
                if ev > 0 and st[v, WLAST] + 1 > t:
                    t = st[v, WLAST] + 1
                base = t
                wm = mr[slot]
                blocked = False
                p = 0
                while (wm >> p) != 0:
                    if (wm >> p) & 1:
                        e = out_edge[v, p]
                        c = ed[e, CAP]
                        k = ed[e, WR]
                        if c >= 0 and k >= c:
                            if k - c >= ed[e, RD]:
                                st[v, WBE] = e
                                blocked = True
                                break
                            cand = tr[ed[e, OFF] + k - c] + 1
                            if cand > t:
                                t = cand
                    p += 1
                if blocked:
                    break
                p = 0
                while (wm >> p) != 0:
                    if (wm >> p) & 1:
                        e = out_edge[v, p]
                        k = ed[e, WR]
                        tw[ed[e, OFF] + k] = t
                        ed[e, WR] = k + 1
                    p += 1
                wr_ring[slot] = t
                st[v, WLAST] = t
                st[v, WED] = ev + 1
                st[v, WBLOCK] += t - base
                st[v, WBE] = -1
                step = True
            if not step:
                break
            moved = True
        if moved:
            for q in range(nbr_off[v], nbr_off[v + 1]):
                u = nbr[q]
                if not queued[u]:
                    queued[u] = True
                    stack[top] = u
                    top += 1
    for v in range(n):
        if st[v, FJ] < nd[v, ACNT] * nd[v, REPEATS] * frames or st[v, WED] < st[v, WEF]:
            return 1
    return 0


def new_state(n_nodes: int, n_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """Initial node state (x(-1) = -II so that x(f) >= II·f) and edge pointers."""
    st = np.zeros((n_nodes, N_ST), dtype=np.int64)
    st[:, PGF] = -1
    st[:, FBE] = -1
    st[:, WBE] = -1
    return st, np.zeros((n_edges, N_ED), dtype=np.int64)
