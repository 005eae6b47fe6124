"""The toolchain users import: training, export, lowering passes, backends, reports.

Heavy dependencies (torch, brevitas, hls4ml, matplotlib) are imported lazily by the modules that
need them, so `import toolchain` stays cheap.
"""

__version__ = "0.1.0"

import warnings as _warnings

# Brevitas announces an optional CUDA kernel at import; it is irrelevant on CPU and would bury our output.
_warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
