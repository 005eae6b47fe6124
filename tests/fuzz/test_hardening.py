"""Issue 16, the parts that are not a table of bad command lines: checkpoints that would run code,
the folder swap and its recovery, temporary files of killed writes, permissions, targets not met."""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path

import numpy as np
import pytest

from tests.fuzz.harness import refusal_problems, run_in_process
from toolchain.errors import UserError


class Payload:
    """Unpickling this runs a shell command that writes `marker` (what a crafted checkpoint does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("layout", ["legacy", "current"])
def test_a_crafted_checkpoint_runs_nothing(tmp_path, layout):
    import torch

    run, marker = tmp_path / "run", tmp_path / "PWNED"
    run.mkdir()
    if layout == "legacy":  # hil's old format: the recipe pickled inside checkpoint.pt
        torch.save({"recipe": Payload(marker), "state_dict": {}}, run / "checkpoint.pt")
    else:  # today's format, with the payload in the tensor file
        torch.save({"state_dict": Payload(marker)}, run / "checkpoint.pt")
        (run / "recipe.json").write_text(json.dumps({"name": "digits-mlp"}))
    outcome = run_in_process(["export", str(run), "-o", str(tmp_path / "m.onnx")], cwd=tmp_path)
    assert not refusal_problems(outcome), outcome.stderr
    assert not marker.exists(), "the checkpoint's command ran"
    assert not (tmp_path / "m.onnx").exists()
    # the file is really hostile: an unrestricted unpickling (what hil did before) runs the command
    try:
        torch.load(run / "checkpoint.pt", weights_only=False)
    except Exception:  # noqa: BLE001 - what the payload returns is not a checkpoint; the command ran already
        pass
    assert marker.exists()


def test_a_checkpoint_round_trips_as_tensors_and_json(tmp_path):
    import torch

    from toolchain.compress.checkpoint import RECIPE_FILE, load_run, save_checkpoint, untrained_model

    recipe, model = untrained_model("digits-mlp")  # calibrated: every quantizer's state exists
    save_checkpoint(tmp_path, recipe, model)
    assert json.loads((tmp_path / RECIPE_FILE).read_text())["name"] == "digits-mlp"
    torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # plain tensors: loads under weights_only
    loaded_recipe, loaded = load_run(tmp_path)
    assert loaded_recipe == recipe
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    # a recipe.json edited (or left by an interrupted save) no longer matches the tensors' hash
    (tmp_path / RECIPE_FILE).write_text((tmp_path / RECIPE_FILE).read_text().replace('"digits-mlp"', '"other"'))
    with pytest.raises(UserError, match="do not belong together"):
        load_run(tmp_path)


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_the_next_write_removes_temp_files_of_killed_writes_only(tmp_path):
    from toolchain.fileio import write_text

    dead = _dead_pid()
    stale = tmp_path / f".out.json.{dead}.abc123.tmp"
    live = tmp_path / f".out.json.{os.getppid()}.def456.tmp"  # a running writer's: kept
    other = tmp_path / f".other.json.{dead}.x.tmp"  # another path's: not this write's business
    for p in (stale, live, other):
        p.write_text("half")
    write_text(tmp_path / "out.json", "{}")
    assert not stale.exists() and live.exists() and other.exists()


def test_a_swap_killed_between_its_renames_is_undone_by_the_next_run(tmp_path):
    from toolchain.backends.staging import check_target
    from toolchain.fileio import staged_folder

    target = tmp_path / "prj"
    backup = tmp_path / f".prj.old-{_dead_pid()}"  # the rename fallback's state after the first rename
    backup.mkdir()
    (backup / "hil_build.json").write_text("{}")
    check_target(target)  # what every build does first
    assert (target / "hil_build.json").exists() and not backup.exists()
    with staged_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["prj"]


def test_swap_replaces_a_folder_without_a_missing_moment(tmp_path, monkeypatch):
    import toolchain.fileio as fileio

    target = tmp_path / "prj"
    target.mkdir()
    (target / "old.txt").write_text("old")
    seen = []
    real_replace = os.replace

    def watching_replace(a, b):  # the fallback path: between its renames the target is missing
        real_replace(a, b)
        seen.append(target.exists())

    monkeypatch.setattr(fileio.os, "replace", watching_replace)
    with fileio.staged_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert seen == [], "the swap used two renames although the file system can exchange"


def test_build_folders_get_the_usual_permissions(tmp_path):
    from toolchain.fileio import staged_folder

    old = os.umask(0o022)
    try:
        with staged_folder(tmp_path / "prj") as tmp:
            (tmp / "a").write_text("a")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "prj").stat().st_mode) == 0o755


def test_an_unreachable_target_fps_is_reported_as_not_met(tmp_path):
    from tests.unit.test_backend_finn import tiny_qonnx

    tiny_qonnx().save(str(tmp_path / "model.onnx"))
    outcome = run_in_process(["lower", "model.onnx", "-o", "df.onnx", "--samples", "8", "--target-fps", "1e30",
                              "--json"], cwd=tmp_path)
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["target_fps"] == 1e30
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and "--target-fps 1e+30 is not met" in lines[0] and "bottleneck MVAU_" in lines[0]
    reachable = run_in_process(["lower", "model.onnx", "-o", "df2.onnx", "--samples", "8", "--target-fps", "1000",
                                "--json"], cwd=tmp_path)
    assert reachable.code == 0 and "not met" not in reachable.stderr


def test_the_json_output_has_no_bare_nan(tmp_path, capsys):
    from toolchain.cli import emit

    emit({"fps": float("nan"), "rows": [float("inf"), 1.5]}, True, "")
    assert json.loads(capsys.readouterr().out) == {"fps": None, "rows": [None, 1.5]}


def test_a_huge_npy_header_is_refused_before_reading(tmp_path, monkeypatch):
    from tests.fuzz.world import _npy_header
    from toolchain.inputs import load_inputs

    path = tmp_path / "x.npy"
    path.write_bytes(_npy_header((10**9, 8)) + b"\0" * 64)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load called before the header check"))
    with pytest.raises(UserError, match="claims shape"):
        load_inputs(path)


def test_a_failed_folder_build_leaves_nothing(tmp_path):
    from toolchain.fileio import staged_folder

    with pytest.raises(RuntimeError):
        with staged_folder(tmp_path / "prj") as tmp:
            (tmp / "half").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_nan_inputs_are_named_by_the_lowering_api(tmp_path):
    from tests.unit.test_backend_finn import tiny_qonnx
    from toolchain.lower import lower_file

    tiny_qonnx().save(str(tmp_path / "model.onnx"))
    x = np.zeros((4, 8), dtype=np.float32)
    x[1, 2] = np.nan
    with pytest.raises(UserError, match="NaN/infinite inputs: sample 1"):
        lower_file(tmp_path / "model.onnx", tmp_path / "df.onnx", inputs=x)
    assert not (tmp_path / "df.onnx").exists()


def test_hil_source_is_followed_inside_the_design_folder_only(tmp_path):
    from tests.unit.test_backend_finn import tiny_qonnx
    from toolchain.contract import source_path

    model = tiny_qonnx()
    design = tmp_path / "d" / "df.onnx"
    for rel, ok in [("model.onnx", True), ("sub/model.onnx", True), ("sub/../model.onnx", True),
                    ("../model.onnx", False), ("/etc/passwd", False), ("sub/../../x.onnx", False)]:
        model.set_metadata_prop("hil_source", rel)
        if ok:
            assert source_path(model, design) == tmp_path / "d" / rel.replace("sub/../", "")
        else:
            with pytest.raises(UserError, match="outside its folder"):
                source_path(model, design)
    assert source_path(model, design, given=tmp_path / "elsewhere.onnx") == tmp_path / "elsewhere.onnx"
