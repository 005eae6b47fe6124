"""`hil synth` (Yosys synth_xilinx per instance) and the `synth` cost model that reads it back.

Debian's yosys must be installed (`make` installs it as root): these tests fail, not skip, without it.
The designs are tiny (a few seconds of Yosys each); results are cached by content hash."""

import json

import numpy as np
import pytest

from hw.ops.graph import NodeSpec, linear_model
from toolchain.backends.rtl import write_rtl
from toolchain.backends.synth import Cells, parse_stat_json, synthesize
from toolchain.errors import UserError
from toolchain.estimate import estimate

rng = np.random.default_rng(3)


def mvau_graph(pe: int, xnor: bool = False):
    """One MVAU (MW 16, MH 8) with an edge FIFO of depth 4 in front of it."""
    if xnor:
        w = rng.choice([-1.0, 1.0], size=(16, 8))
        attrs = {"inputDataType": "BIPOLAR", "weightDataType": "BIPOLAR", "outputDataType": "BIPOLAR",
                 "accDataType": "UINT6", "binaryXnorMode": 1}
        inits = [w, np.sort(rng.integers(4, 12, size=(8, 1)), axis=1).astype(np.float64)]
        dt = "BIPOLAR"
    else:
        w = rng.integers(-4, 4, size=(16, 8)).astype(np.float64)
        attrs = {"inputDataType": "UINT4", "weightDataType": "INT3", "outputDataType": "INT12",
                 "accDataType": "INT12", "noActivation": 1}
        inits = [w]
        dt = "UINT4"
    return linear_model([
        NodeSpec("FIFO", {"depth": 4, "shape": [1, 16], "dataType": dt}),
        NodeSpec("MVAU", {"MW": 16, "MH": 8, "PE": pe, "SIMD": 1, "mem_mode": "internal_embedded", **attrs}, inits),
    ], name=f"mvau_pe{pe}{'_xnor' if xnor else ''}")


def test_yosys_stat_json_workaround():
    # Yosys 0.23 prints the hierarchy listing inside `stat -json` (two such lines here, as it printed them)
    text = """{
   "modules": {
      "hil_top": {
         "num_cells_by_type": {
            "LUT2": 8
         }
      }
   },
       $paramod$af1d994f752661995d531eddca4c9eef658a5915\\hil_fifo      1
       $paramod$4d349cfe8b445d8000118c868adc98727d7b16a0\\hil_fifo      2
   "design": {
      "num_cells_by_type": {
         "CARRY4": 3,
         "LUT6": 5
      }
   }
}"""
    assert parse_stat_json(text) == {"CARRY4": 3, "LUT6": 5}
    assert Cells.from_cell_types({"LUT6": 5, "INV": 2, "RAM32M": 1, "FDRE": 7, "RAMB36E1": 1, "DSP48E1": 2,
                                  "BUFG": 1}) == Cells(LUT=7, LUTRAM=4, FF=7, BRAM_18K=2.0, DSP=2)


def test_synth_per_node_and_read_back(tmp_path):
    model = mvau_graph(pe=1)
    write_rtl(model, tmp_path / "prj")
    report = synthesize(tmp_path / "prj")
    by_name = {i.name: i for i in report.instances}
    mvau = next(n.name for n in model.graph.node if n.op_type == "MVAU")
    fifo = next(n.name for n in model.graph.node if n.op_type == "FIFO")
    assert by_name[mvau].node and by_name[fifo].node
    # a UINT4 x INT3 multiply-accumulate needs logic and registers: the synthesized MVAU is not empty
    assert by_name[mvau].cells.LUT > 0 and by_name[mvau].cells.FF > 0
    # the FIFO node's words are stored somewhere: LUTRAM (>= 32 bits per LUT... at most 64), FFs or BRAM
    edge = next(e for e in json.loads((tmp_path / "prj" / "manifest.json").read_text())["edges"] if e["name"] == fifo)
    f = by_name[fifo].cells
    assert f.LUTRAM * 64 + f.FF >= edge["depth"] * edge["width"] or f.BRAM_18K > 0
    assert not by_name[mvau + "->global_out"].node  # the top's output edge is no node of the model

    import jsonschema

    from toolchain.schemas import schema

    jsonschema.validate(report.as_dict(), schema("synth"))
    (tmp_path / "prj" / "synth.json").write_text(json.dumps(report.as_dict()))
    est = estimate(model, cost="synth", synth_report=json.loads((tmp_path / "prj" / "synth.json").read_text()))
    import jsonschema

    from toolchain.schemas import schema

    jsonschema.validate(est, schema("estimate"))
    rows = {r["name"]: r for r in est["layers"]}
    for name, inst in by_name.items():
        if inst.node:
            res = inst.cells.resources()
            assert (rows[name]["LUT"], rows[name]["FF"], rows[name]["DSP"]) == (res.LUT, res.FF, res.DSP)
    assert est["total"]["LUT"] == report.total.LUT + report.total.LUTRAM  # edge FIFOs of the top counted too
    # the Python API reads the same report from the project folder, as `hil estimate --cost synth --rtl`
    import hil

    via_api = hil.estimate(model, cost="synth", rtl_dir=tmp_path / "prj")
    assert via_api.cost_model == est["cost_model"] and via_api.total == est["total"]

    # the report of another design is refused (here: the same graph with PE 2)
    with pytest.raises(UserError, match="another design"):
        estimate(mvau_graph(pe=2), cost="synth", synth_report=report.as_dict())


def test_xnor_lanes_use_no_dsp_and_unrolling_costs_more(tmp_path):
    write_rtl(mvau_graph(pe=1, xnor=True), tmp_path / "x")
    xnor = synthesize(tmp_path / "x")
    assert xnor.total.DSP == 0  # XNOR-popcount lanes: no multiplier at all

    write_rtl(mvau_graph(pe=1), tmp_path / "p1")
    write_rtl(mvau_graph(pe=8), tmp_path / "p8")
    one = next(i for i in synthesize(tmp_path / "p1").instances if i.module == "hil_mvau").cells
    eight = next(i for i in synthesize(tmp_path / "p8").instances if i.module == "hil_mvau").cells
    # eight multiply-accumulate lanes instead of one
    assert eight.LUT + 60 * eight.DSP > 2 * (one.LUT + 60 * one.DSP)


def test_synth_refuses_a_folder_without_manifest(tmp_path):
    with pytest.raises(UserError, match="manifest"):
        synthesize(tmp_path)


@pytest.mark.slow
def test_every_template_synthesizes(tmp_path):
    """Each op template through Yosys (the co-simulated graphs of tests/rtl): every node gets cells."""
    from tests.rtl.test_rtl_cnn_ops import cnn
    from tests.rtl.test_rtl_ops import binary_graph, multibit_graph
    from tests.unit.test_emulator_model import residual

    for k, model in enumerate([multibit_graph(), binary_graph(), cnn(1), cnn(2), residual()[0]]):
        write_rtl(model, tmp_path / f"p{k}")
        report = synthesize(tmp_path / f"p{k}")
        modules = {i.module for i in report.instances}
        for inst in report.instances:
            assert inst.cells.LUT + inst.cells.LUTRAM + inst.cells.FF > 0, (inst.name, modules)
