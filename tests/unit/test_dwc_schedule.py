"""The DWC's token schedule (hw/ops/dwc.py): for every width ratio, no word is written before the
input bits it holds have been read, no bit waits longer than it must (a read happens only when the
buffer cannot fill the next output word), and a frame takes max(words in, words out) firings."""

import numpy as np
import pytest

from hw.ops.graph import NodeSpec, linear_model
from qonnx.custom_op.registry import getCustomOp


@pytest.mark.parametrize("win,wout,channels,bits", [(8, 12, 12, 2), (9, 6, 6, 3), (4, 8, 8, 2), (8, 2, 8, 2),
                                                    (6, 4, 12, 2), (2, 6, 6, 2), (10, 4, 10, 2), (6, 6, 6, 2),
                                                    (15, 10, 30, 5)])
def test_generalized_converter_schedule(win, wout, channels, bits):
    model = linear_model([NodeSpec("DWC", {"shape": [1, 2, channels], "inWidth": win, "outWidth": wout,
                                           "dataType": f"UINT{bits}"})])
    op = getCustomOp(model.graph.node[0])
    sched = op.token_schedule()
    reads, writes = sched.reads[0], sched.writes[0]
    total_bits = 2 * channels * bits
    assert reads.sum() * win == total_bits == writes.sum() * wout
    assert len(reads) == max(total_bits // win, total_bits // wout)
    bits_in = np.cumsum(reads) * win  # read by the end of each firing
    bits_out = np.cumsum(writes) * wout
    assert np.all(bits_out <= bits_in)  # never written before read
    buffered_before = np.concatenate([[0], (bits_in - bits_out)[:-1]])
    assert np.all(reads == (buffered_before < wout))  # a read exactly when the buffer cannot fill a word
