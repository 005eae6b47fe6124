"""Dataflow ops of the IR, one per file. qonnx's getCustomOp imports this module for nodes in
domain "hw.ops" and looks the op type up in `custom_op`."""

from hw.ops.addstreams import AddStreams
from hw.ops.base import DOMAIN, HWOp, OpError, make_hw_node
from hw.ops.duplicatestreams import DuplicateStreams
from hw.ops.dwc import DWC
from hw.ops.fifo import FIFO
from hw.ops.fmpadding import FMPadding
from hw.ops.labelselect import LabelSelect
from hw.ops.mvau import MVAU
from hw.ops.streamingmaxpool import StreamingMaxPool
from hw.ops.swg import SWG
from hw.ops.thresholding import Thresholding

custom_op = {
    "MVAU": MVAU,
    "Thresholding": Thresholding,
    "SWG": SWG,
    "StreamingMaxPool": StreamingMaxPool,
    "LabelSelect": LabelSelect,
    "DWC": DWC,
    "FIFO": FIFO,
    "AddStreams": AddStreams,
    "DuplicateStreams": DuplicateStreams,
    "FMPadding": FMPadding,
}
