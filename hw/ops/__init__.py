"""Dataflow ops of the IR, one per file. qonnx's getCustomOp imports this module for nodes in
domain "hw.ops" and looks the op type up in `custom_op`.

Adding an op = its file in hw/ops/ (one HWOp subclass holding everything about it) + one line in
`custom_op`. Passes, cost models and backends read the op's class facts through the helpers below
instead of lists of op-type strings.
"""

from typing import Optional

from hw.ops.addstreams import AddStreams
from hw.ops.base import DOMAIN, HWOp, OpError, make_hw_node
from hw.ops.duplicatestreams import DuplicateStreams
from hw.ops.dwc import DWC
from hw.ops.fifo import FIFO
from hw.ops.fmpadding import FMPadding
from hw.ops.globalaccpool import GlobalAccPool
from hw.ops.labelselect import LabelSelect
from hw.ops.mvau import MVAU
from hw.ops.streamingmaxpool import StreamingMaxPool
from hw.ops.swg import SWG
from hw.ops.swg1d import SWG1D
from hw.ops.thresholding import Thresholding
from hw.ops.upsample import Upsample
from hw.ops.vvau import VVAU

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
    "VVAU": VVAU,
    "GlobalAccPool": GlobalAccPool,
    "SWG1D": SWG1D,
    "Upsample": Upsample,
}


def op_class(op_type: str) -> Optional[type[HWOp]]:
    """The registered class of an op type, or None."""
    return custom_op.get(op_type)


def from_finn_op_type(finn_name: str) -> Optional[str]:
    """Our op type of a FINN op type (suffixes _hls/_rtl/_Batch already stripped), e.g.
    ConvolutionInputGenerator -> SWG; our own op types map to themselves."""
    if finn_name in custom_op:
        return finn_name
    return next((name for name, cls in custom_op.items() if finn_name in cls.FINN_OP_TYPES), None)


def from_name_prefix(prefix: str) -> Optional[str]:
    """Our op type of a node-name prefix (MaxPool -> StreamingMaxPool)."""
    return next((name for name, cls in custom_op.items() if cls.name_prefix() == prefix), None)


def name_prefix(op_type: str) -> str:
    """Node-name prefix of an op type (ours: the class's; other ops: the op type itself)."""
    cls = custom_op.get(op_type)
    return cls.name_prefix() if cls is not None else op_type
