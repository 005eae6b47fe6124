"""The finn-hlslib sliding-window loops (slidingwindow.h: ConvolutionInputGenerator and
ConvolutionInputGenerator_kernel_stride), replayed iteration by iteration to record which
iterations read an input word and which write an output word. Only the control flow is kept
(counters and conditions, same names as the C++); buffer contents are not modelled.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _loop(k, s, ifm, ofm, cf, frames, kernel_stride, reads, writes):  # pragma: no cover - numba
    if kernel_stride:
        nb = k + s
        line_len = ifm * cf
        write_block = ofm * k * k * cf
        read_block = ifm * s * cf
        max_cycles = max(write_block, read_block)
        base = ifm * k * cf + (ofm - 1) * max_cycles + max(write_block, ofm)
        rows_to_read = ifm
    else:
        nb = k // s + 1
        line_len = s * ifm * cf
        write_block = ofm * k * k * cf
        read_block = s * ifm * cf
        max_cycles = max(write_block, read_block)
        base = ifm * k * cf + ofm * max_cycles
        rows_to_read = ifm // s
    initial = ifm * k * cf
    counter = 0
    cur_line = 0
    cur_block_write = 0
    read_block_n = 0
    inp = 0
    ofm_y = 0
    ofm_x = 0
    k_y = 0
    k_x = 0
    count_simd = 0
    t = 0
    for _img in range(frames):
        if kernel_stride:
            cur_block_write = 0
        read_block_n = 0
        for _i in range(base):
            if inp < initial:
                reads[t] = True
                cur_line += 1
                inp += 1
                if cur_line == line_len:
                    cur_line = 0
                    cur_block_write = (cur_block_write + 1) % nb
                    read_block_n += 1
                    counter = 0
            else:
                if counter < write_block - 1 or (kernel_stride and read_block_n == ifm):
                    writes[t] = True
                    count_simd += 1
                    if count_simd == cf:
                        count_simd = 0
                        k_x += 1
                        if k_x == k:
                            k_x = 0
                            k_y += 1
                            if k_y == k:
                                k_y = 0
                                ofm_x += 1
                                if ofm_x == ofm:
                                    ofm_x = 0
                                    ofm_y += 1
                                    if ofm_y == ofm:
                                        ofm_y = 0
                                        inp = 0
                if counter < read_block - 1 and read_block_n < rows_to_read:
                    reads[t] = True
                    cur_line += 1
                    if cur_line == line_len:
                        cur_line = 0
                        read_block_n += 1
                        cur_block_write = (cur_block_write + 1) % nb
                counter += 1
                if counter == max_cycles - 1:
                    counter = 0
            t += 1
    return t


def loop_length(k: int, s: int, ifm: int, ofm: int, cf: int, kernel_stride: bool) -> int:
    """baseIter of the HLS loop: firings per frame."""
    write_block, read_block = ofm * k * k * cf, s * ifm * cf
    if kernel_stride:
        return ifm * k * cf + (ofm - 1) * max(write_block, read_block) + max(write_block, ofm)
    return ifm * k * cf + ofm * max(write_block, read_block)


def run_loop(k: int, s: int, ifm: int, ofm: int, cf: int, frames: int, kernel_stride: bool):
    n = loop_length(k, s, ifm, ofm, cf, kernel_stride) * frames
    reads = np.zeros(n, dtype=np.bool_)
    writes = np.zeros(n, dtype=np.bool_)
    _loop(k, s, ifm, ofm, cf, frames, kernel_stride, reads, writes)
    return reads, writes
