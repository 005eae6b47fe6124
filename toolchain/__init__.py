"""The toolchain users import: training, export, lowering passes, backends, reports.

Heavy dependencies (torch, brevitas, hls4ml, matplotlib) are imported lazily by the modules that
need them, so `import toolchain` stays cheap.
"""

__version__ = "0.1.0"
