"""Issue 11 item 3: a sweep can name a target, and a trained trial is confirmed on it. The confirmation
step (toolchain.sweep.trial.confirm_on_target) runs here on a real agent process, on a trial folder
holding what stage 3 leaves (recipe.yaml, model.onnx, dataflow.onnx); training itself is covered by
the slow sweep tests."""

from __future__ import annotations

import json
import shutil

import pytest

from toolchain.errors import UserError


def test_the_sweep_file_names_a_target():
    from toolchain.sweep.schema import parse_sweep

    assert parse_sweep({"trials": 1}).target is None
    for target in ("emulator", "csim", "tcp://pynq.local:7800"):
        assert parse_sweep({"trials": 1, "target": target}).target == target
    with pytest.raises(UserError, match="target: must be emulator, csim or tcp://HOST:PORT"):
        parse_sweep({"trials": 1, "target": "fpga"})


def trial_folder(design, tmp_path):
    from toolchain.zoo import ZOO_DIR

    folder = tmp_path / "trials" / "0000"
    folder.mkdir(parents=True)
    for f in (design.dataflow, design.source):  # hil_source is relative: the two files stay side by side
        shutil.copy(f, folder / f.name)
    (folder / "recipe.yaml").write_text((ZOO_DIR / "digits-mlp.yaml").read_text())
    return folder


def spec_for(folder, target: str):
    from toolchain.sweep.schema import parse_sweep
    from toolchain.sweep.space import Point
    from toolchain.sweep.trial import TrialSpec

    sweep = parse_sweep({"trials": 1, "target": target, "verify_samples": 300})
    point = Point(weight_bits=4, act_bits=4, target_fps=1e5, part="Pynq-Z2", clock_ns=10.0)
    return TrialSpec(number=0, sweep=sweep, point=point, folder=str(folder))


def test_a_trial_is_confirmed_on_a_board_agent(design, emulator_agent, tmp_path, monkeypatch):
    from toolchain.report.html import write_report
    from toolchain.sweep.trial import confirm_on_target

    folder = trial_folder(design, tmp_path)
    monkeypatch.setenv("HIL_TOKEN", emulator_agent.token)
    confirmed = confirm_on_target(spec_for(folder, emulator_agent.address), folder)
    assert confirmed["target"] == emulator_agent.address and confirmed["agent"] == "emulator"
    assert confirmed["samples"] == 300 and confirmed["mismatches"] == 0 and confirmed["samples_per_second"] > 0
    run = json.loads((folder / "run.json").read_text())
    assert run["equality"]["samples"] == 300 and run["equality"]["mismatches"] == 0
    # the trial folder's report says which target produced the numbers
    page = write_report(folder).read_text()
    assert f"run on {emulator_agent.address}" in page and "agent: emulator" in page


def test_a_target_without_its_token_fails_the_trial_with_its_reason(design, emulator_agent, tmp_path, monkeypatch):
    from toolchain.sweep.trial import confirm_on_target

    folder = trial_folder(design, tmp_path)
    monkeypatch.setenv("HIL_TOKEN", "0" * 32)
    with pytest.raises(UserError, match="authentication failed"):
        confirm_on_target(spec_for(folder, emulator_agent.address), folder)
