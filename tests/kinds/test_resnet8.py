"""resnet8-digits (issue 15, item 1 and 3): identity and 1×1-projection shortcuts lowered to
DuplicateStreams + AddStreams, exact through the chain; the residual bypass FIFO sized by the
lowering, a too-shallow bypass deadlocks `hil emulate` (exit 3, naming the FIFO and the depth that
fixes it), and `--size-fifos` or the named depth fixes it."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from qonnx.custom_op.registry import getCustomOp

from hw.emulator import build_timing_graph, simulate, SimConfig
from hw.emulator.bypass import fork_edges
from tests.conftest import run_cli
from tests.kinds.chain import check_chain, check_finn_handoff, check_hls4ml_csim, run_chain
from toolchain.emulate import EmulationDeadlock, emulate
from toolchain.onnxio import load_model

RECIPE = "resnet8-digits"


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return run_chain(RECIPE, tmp_path_factory.mktemp("resnet8"))


def test_resnet8_lowers_to_forks_and_joins_exactly(chain):
    check_chain(chain)
    nodes = chain.lower["nodes"]
    # two blocks: each one fork and one join; the second block's shortcut is a 1×1 projection (an MVAU
    # without SWG), so the MVAUs are stem + 2 + 3 + classifier = 7 and only 5 SWGs (3×3 convs)
    assert nodes["DuplicateStreams"] == 2 and nodes["AddStreams"] == 2
    assert nodes["MVAU"] == 7 and nodes["SWG"] == 5 and nodes["FMPadding"] == 4


def bypass_fifos(model):
    """(FIFO node, depth) behind each fork output, in graph order."""
    out = []
    for n in model.graph.node:
        if n.op_type == "DuplicateStreams":
            for t in n.output:
                f = model.find_consumer(t)
                out.append((f.name, getCustomOp(f).get_nodeattr("depth")))
    return out


def test_the_lowering_sizes_the_bypass_and_only_it(chain):
    model = load_model(chain.dataflow)
    fifos = bypass_fifos(model)
    assert len(fifos) == 4
    deep = [name for name, depth in fifos if depth > 2]
    assert len(deep) == 2  # one per block: the bypass; the long branch keeps FINN's depth 2
    graph = build_timing_graph(model)
    assert set(deep) <= set(fork_edges(graph))
    assert simulate(graph, SimConfig(frames=3)).deadlock is None
    # each deepened FIFO is needed: back at depth 2 the design deadlocks
    for name in deep:
        assert simulate(graph.with_capacities({name: 2}), SimConfig(frames=3)).deadlock is not None


def test_shallow_bypass_deadlocks_with_the_fix_named(chain, tmp_path):
    model = load_model(chain.dataflow)
    bypass = next(name for name, depth in bypass_fifos(model) if depth > 2)
    shallow = tmp_path / "shallow.json"
    shallow.write_text(json.dumps({bypass: 2}))
    with pytest.raises(EmulationDeadlock) as err:
        emulate(chain.dataflow, fifo_depths=shallow)
    message = str(err.value)
    assert f"into full FIFO {bypass} (depth 2)" in message
    fix = err.value.result["deadlock"]["fix"]
    assert fix and all(f"{name} to depth {depth}" in message for name, depth in fix.items())
    # the named depths fix it
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({bypass: 2, **fix}))
    assert emulate(chain.dataflow, fifo_depths=fixed)["deadlock"] is False
    # and so does --size-fifos, at the estimate's interval
    sized = emulate(chain.dataflow, fifo_depths=shallow, size=True)
    assert sized["deadlock"] is False
    assert sized["interval_cycles"] == chain.estimate["network"]["max_cycles"]


def test_shallow_bypass_is_exit_3_on_the_command_line(chain, tmp_path):
    model = load_model(chain.dataflow)
    bypass = next(name for name, depth in bypass_fifos(model) if depth > 2)
    shallow = tmp_path / "shallow.json"
    shallow.write_text(json.dumps({bypass: 2}))
    r = run_cli("emulate", str(chain.dataflow), "--fifo-depths", str(shallow))
    assert r.returncode == 3, r.stderr
    assert r.stderr.count("\n") == 1 and "fix: deepen" in r.stderr and "Traceback" not in r.stderr


def test_resnet8_finn_handoff_round_trips(chain, tmp_path):
    result = check_finn_handoff(chain, tmp_path)
    names = Counter(v.rsplit("_", 1)[0] for v in result["finn_names"].values())
    assert names["AddStreams_hls"] == 2 and names["DuplicateStreams_hls"] == 2


JOINS = ["AddStreams_0", "AddStreams_1", "MVAU_3", "MVAU_6"]  # the joins, the 1x1 projection, the classifier


@pytest.mark.slow
def test_resnet8_hls4ml_csim_is_exact(chain, tmp_path):
    result = check_hls4ml_csim(chain, tmp_path, 1000, JOINS)
    assert [layer["kind"] for layer in result["layers"]].count("Add") == 2


@pytest.mark.slow
def test_trained_resnet8_chain(tmp_path):
    from toolchain.train import train_recipe

    metrics = train_recipe(RECIPE, tmp_path / "run", epochs=5)
    assert metrics["accuracy"] > 0.8
    chain = run_chain(RECIPE, tmp_path, run=tmp_path / "run", samples=1000)
    check_chain(chain)
    check_hls4ml_csim(chain, tmp_path, 1000, JOINS)
