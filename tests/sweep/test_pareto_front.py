"""Non-dominated sorting, checked against a brute-force definition on random points."""

from __future__ import annotations

import numpy as np

from toolchain.sweep.pareto import dominates, front_indices


def test_front_of_a_known_set():
    pts = [[1, 5], [2, 2], [5, 1], [3, 3], [2, 2.5], [6, 6]]
    assert front_indices(pts) == [0, 1, 2]


def test_front_matches_brute_force():
    rng = np.random.default_rng(0)
    pts = rng.integers(0, 6, size=(60, 3)).tolist()
    front = set(front_indices(pts))
    for i, p in enumerate(pts):
        beaten = any(all(q[k] <= p[k] for k in range(3)) and q != p for q in pts)
        assert (i in front) == (not beaten)
    assert not dominates([1, 1], [1, 1])


def _pareto_json(run) -> dict:
    """What `hil pareto RUN` writes for a sweep with three complete trials, two of them non-dominated
    (validated against its JSON schema, so the report reads the real contract)."""
    import jsonschema

    from toolchain.schemas import schema, versioned
    from toolchain.sweep.pareto import rebuild_command

    point = {"weight_bits": 3, "act_bits": 3, "layers": {}, "prune": "budget:LUT=1300", "target_fps": 1e5,
             "part": "Pynq-Z2", "clock_ns": 10.0}
    trials = [{"number": n, "measures": {"accuracy": a, "lut": l, "latency": 13440.0, "energy": 9e3, "bops": b,
                                         "fits": True}} for n, a, l, b in [(0, 0.93, 1500.0, 1e5), (1, 0.90, 1200.0, 8e4),
                                                                            (2, 0.88, 1600.0, 2e5)]]
    front = [{**t, "point": point, "emulation": None, "target": None, "cost": "calibrated",
              "folder": str(run / "trials" / f"{t['number']:04d}")} for t in trials[:2]]
    for row in front:
        row["rebuild"] = rebuild_command(row)
    result = versioned({"objectives": ["accuracy", "lut"], "complete": 3, "front": front, "trials": trials,
                        "baseline": {"float_accuracy": 0.94, "float_bops": 6.6e6, "epochs": 6,
                                     "w8a8_dense": {"lut": 18055.0, "latency": 13440.0}}}, {})
    jsonschema.validate(result, schema("pareto"))
    return result


def test_the_rebuild_command_of_a_budget_point_carries_the_budget(tmp_path):
    cmd = _pareto_json(tmp_path)["front"][0]["rebuild"]
    assert cmd.startswith(f"hil train {tmp_path / 'trials' / '0000' / 'recipe.yaml'} ")
    assert "--budget LUT=1300 --part Pynq-Z2 --target-fps 100000 --clock-ns 10 --cost calibrated" in cmd
    assert cmd.endswith("--backend hls4ml -o " + str(tmp_path / "trials" / "0000" / "rebuild") + "/hls")


def test_hil_report_of_a_sweep_run_has_the_pareto_section(tmp_path):
    """`hil report RUN` on a sweep's folder: the counts, the front with each point's configuration and
    rebuild command, and the accuracy-vs-cost chart with the front highlighted."""
    from toolchain.fileio import write_json
    from toolchain.report.html import write_report

    result = _pareto_json(tmp_path)
    write_json(tmp_path / "pareto.json", result)
    write_json(tmp_path / "summary.json", {"schema_version": 2, "trials": 5, "complete": 3, "pruned": 1,
                                           "pruned_early": 1, "infeasible": 0, "failed": 0, "trainings_saved": 1,
                                           "epochs_saved": 3, "epochs_budget": 30, "trained": 3,
                                           "objectives": ["accuracy", "lut"], "units": {}})
    page = write_report(tmp_path).read_text()
    assert "<h2>Pareto front (hil pareto)</h2>" in page
    assert 'data-layer="trial-0"' in page and 'data-layer="trial-1"' in page and 'data-layer="trial-2"' not in page
    assert page.index('data-layer="trial-0"') < page.index('data-layer="trial-1"')  # by accuracy
    import html

    assert html.escape(result["front"][1]["rebuild"]) in page
    assert "w3a3, prune budget:LUT=1300, 100000 fps, Pynq-Z2, 10 ns" in page
    assert "<td>3 of 30</td>" in page and "Pareto front" in page.split('id="chart-pareto"')[-1]
    assert "Not in this run folder" not in page
