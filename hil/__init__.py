"""`import hil`: the Python API of the hil toolchain, the same functions the `hil` verbs run.

    import hil
    exported = hil.export(model, (1, 1, 8, 8), "model.onnx", x=x)   # Brevitas nn.Module -> verified QONNX
    design = hil.lower(exported, x=x)                                # dataflow design ≡ the QONNX
    hil.estimate(design, part="Pynq-Z2").throughput_fps
    hil.emulate(design, x).outputs                                   # the source's outputs, from the design
    hil.build(design, "hls4ml", "prj", csim=100)

Every function accepts a torch.nn.Module, an onnx.ModelProto, a qonnx ModelWrapper or a path where a
model is expected, numpy arrays where data is, and returns a dataclass (Exported, Design, Estimate,
Emulation, Build; Equality for every comparison). Bad input raises hil.UserError with the one-line
message the CLI prints.

Why a package of its own rather than `import toolchain as hil`: toolchain.export, toolchain.lower,
toolchain.estimate and toolchain.emulate are modules, so functions of those names on the toolchain
package would be replaced by the modules as soon as anything imports them. This package holds only the
public names (__all__), and imports toolchain.api (and through it torch, qonnx, ...) on first use, so
`import hil` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["export", "lower", "estimate", "emulate", "build", "Exported", "Design", "Estimate", "Emulation",
           "Build", "Equality", "UserError", "Dataset", "read_dataset_file", "__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily (__getattr__)
    from toolchain.api import (Build, Design, Emulation, Estimate, Exported, build, emulate, estimate, export,
                               lower)
    from toolchain.data import Dataset, read_dataset_file
    from toolchain.equality import Equality
    from toolchain.errors import UserError

_HOME = {"Dataset": "toolchain.data", "read_dataset_file": "toolchain.data", "Equality": "toolchain.equality",
         "UserError": "toolchain.errors", "__version__": "toolchain"}


def __getattr__(name: str):
    """PEP 562: a public name is imported from its module on first access, then cached here."""
    if name not in __all__:
        raise AttributeError(f"module 'hil' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_HOME.get(name, "toolchain.api")), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
