"""The files the fuzz corpus points at: good models to aim bad options at, and bad files of every kind.

Built once per session under one folder (`build_world`); corpus cases name them as {w}/NAME. The
crafted checkpoint writes {w}/PWNED when unpickled: the corpus asserts the marker never appears.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np

MARKER = "PWNED"


def _npy_header(shape, dtype="<f4") -> bytes:
    """A version-1.0 .npy header claiming `shape` (no data follows)."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def _big_dim_qonnx(path: Path, dim: int) -> None:
    """A one-node QONNX graph (input quantizer only) whose input has `dim` features."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    node = helper.make_node("Quant", ["x", "s", "z", "b"], ["y"], domain="qonnx.custom_op.general",
                            rounding_mode="ROUND", signed=1, narrow=0)
    graph = helper.make_graph([node], "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, dim])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, dim])])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="fuzz"))
    for name, value in {"s": 0.125, "z": 0.0, "b": 8.0}.items():
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    model.save(str(path))


def _with_metadata(src: Path, dst: Path, **props: str) -> None:
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(str(src))
    for key, value in props.items():
        model.set_metadata_prop(key, value)
    model.save(str(dst))


def _checkpoints(w: Path) -> None:
    """Run folders with hostile or broken checkpoints (legacy single-file format and the current one)."""
    import pickle

    import torch

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {w / MARKER}",))

    for name in ("run_crafted", "run_crafted_new", "run_corrupt", "run_wrong_sd", "run_bad_recipe", "run_empty",
                 "run_legacy"):
        (w / name).mkdir()
    torch.save({"recipe": Evil(), "state_dict": {}}, w / "run_crafted" / "checkpoint.pt")
    # the current format (tensors + recipe.json) with a pickle payload in the tensor file
    with open(w / "run_crafted_new" / "checkpoint.pt", "wb") as f:
        pickle.dump({"state_dict": Evil()}, f)
    (w / "run_crafted_new" / "recipe.json").write_text(json.dumps({"name": "digits-mlp"}))
    (w / "run_corrupt" / "checkpoint.pt").write_bytes(b"\x00garbage" * 100)
    (w / "run_corrupt" / "recipe.json").write_text("{not json")
    from toolchain.zoo import load_recipe

    recipe = load_recipe("digits-mlp").model_dump(mode="json")
    torch.save({"state_dict": {"nope": torch.zeros(3)}}, w / "run_wrong_sd" / "checkpoint.pt")
    (w / "run_wrong_sd" / "recipe.json").write_text(json.dumps(recipe))
    torch.save({"state_dict": {}}, w / "run_bad_recipe" / "checkpoint.pt")
    (w / "run_bad_recipe" / "recipe.json").write_text(json.dumps({"name": 3, "architecture": "mlp"}))
    torch.save({"recipe": recipe, "state_dict": {"nope": torch.zeros(3)}}, w / "run_legacy" / "checkpoint.pt")


def build_world(w: Path) -> Path:
    from qonnx.core.modelwrapper import ModelWrapper

    from tests.unit.test_backend_finn import tiny_qonnx
    from toolchain.lower import lower_file

    w.mkdir(parents=True, exist_ok=True)
    tiny_qonnx().save(str(w / "model.onnx"))
    lower_file(w / "model.onnx", w / "dataflow.onnx", samples=8)
    rng = np.random.default_rng(0)
    x = (rng.integers(-16, 16, size=(6, 8)) * 0.125).astype(np.float32)
    np.save(w / "x.npy", x)
    xn = x.copy()
    xn[2, 3] = np.nan
    np.save(w / "x_nan.npy", xn)
    xi = x.copy()
    xi[0, 0] = np.inf
    np.save(w / "x_inf.npy", xi)
    np.save(w / "x_str.npy", np.array(["a", "b", "c"]))
    np.save(w / "x_empty.npy", np.zeros((0, 8), dtype=np.float32))
    np.save(w / "x_scalar.npy", np.float32(1.0))
    np.save(w / "x_shape.npy", np.zeros((4, 3), dtype=np.float32))
    np.save(w / "x_bool.npy", np.zeros((4, 8), dtype=bool))
    np.save(w / "x_complex.npy", np.zeros((4, 8), dtype=np.complex64))
    np.save(w / "x_obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.savez(w / "x_npz.npz", x=x)
    shutil.move(w / "x_npz.npz", w / "x_npz.npy")
    (w / "x_zero.npy").write_bytes(b"")
    (w / "x_text.npy").write_text("1,2,3\n")
    (w / "x_huge.npy").write_bytes(_npy_header((10**9, 8)))  # header claims 32 GB, no data
    (w / "x_huge2.npy").write_bytes(_npy_header((10**6, 10**6)))
    (w / "x_trunc.npy").write_bytes((w / "x.npy").read_bytes()[:-7])
    (w / "notes.txt").write_text("hello\n")
    (w / "empty.onnx").write_bytes(b"")
    (w / "garbage.onnx").write_bytes(bytes(range(256)) * 8)
    (w / "text.onnx").write_text("not a model\n")
    (w / "adir").mkdir()
    (w / "adir.onnx").mkdir()
    (w / "adir.npy").mkdir()
    (w / "adir.json").mkdir()
    (w / "afile").write_text("a regular file\n")
    (w / "existing.onnx").write_bytes((w / "dataflow.onnx").read_bytes())
    (w / "existing.npy").write_bytes((w / "x.npy").read_bytes())
    # foldings
    folds = {"fold_pe_huge.json": '{"MVAU_0": {"PE": 1' + "0" * 400 + "}}",
             "fold_pe_float.json": '{"MVAU_0": {"PE": 2.5}}',
             "fold_pe_neg.json": '{"MVAU_0": {"PE": -4}}',
             "fold_pe_zero.json": '{"MVAU_0": {"PE": 0}}',
             "fold_pe_str.json": '{"MVAU_0": {"PE": "four"}}',
             "fold_pe_bad_divisor.json": '{"MVAU_0": {"PE": 3}}',
             "fold_unknown_node.json": '{"MVAU_9": {"PE": 2}}',
             "fold_unknown_attr.json": '{"MVAU_0": {"XYZ": 2}}',
             "fold_list.json": "[1, 2, 3]",
             "fold_bad.json": "{not json",
             "fold_empty.json": "",
             "fold_nan.json": '{"MVAU_0": {"PE": NaN}}',
             "fold_fifo_huge.json": '{"FIFO_0": {"depth": 1000000000000}}',
             "fold_fifo_neg.json": '{"FIFO_0": {"depth": -2}}',
             "fifo_huge.json": '{"FIFO_0": 1000000000000}',
             "fifo_neg.json": '{"FIFO_0": -1}',
             "fifo_zero.json": '{"FIFO_0": 0}',
             "fifo_str.json": '{"FIFO_0": "deep"}',
             "fifo_float.json": '{"FIFO_0": 2.5}',
             "fifo_unknown.json": '{"NOPE_7": 4}',
             "fifo_list.json": "[4, 4]",
             "fifo_bad.json": "{{{",
             "fifo_huge_int.json": '{"FIFO_0": 1' + "0" * 400 + "}"}
    for name, text in folds.items():
        (w / name).write_text(text)
    # dataflow models with hostile metadata
    df = w / "dataflow.onnx"
    _with_metadata(df, w / "df_passwd.onnx", hil_source="/etc/passwd")
    _with_metadata(df, w / "df_escape.onnx", hil_source="../../../../../../../../etc/passwd")
    _with_metadata(df, w / "df_self.onnx", hil_source="df_self.onnx")
    _with_metadata(df, w / "df_missing_src.onnx", hil_source="nothing_here.onnx")
    _with_metadata(df, w / "df_nan_clock.onnx", hil_clock_ns="nan")
    _with_metadata(df, w / "df_bad_io.onnx", hil_io="{not json")
    _with_metadata(df, w / "df_io_list.onnx", hil_io="[1, 2]")
    _with_metadata(df, w / "df_io_kind.onnx", hil_io='{"output_kind": "probabilities"}')
    _with_metadata(df, w / "df_io_nan.onnx", hil_io='{"input_scale": NaN}')
    _with_metadata(df, w / "df_io_zero.onnx", hil_io='{"input_scale": 0}')
    _with_metadata(df, w / "df_part.onnx", hil_part="no-such-part")
    _big_dim_qonnx(w / "big_dim.onnx", 10**9)
    _big_dim_qonnx(w / "big_dim2.onnx", 10**15)
    # a dataflow model with a huge FIFO depth attribute written into the file
    m = ModelWrapper(str(df))
    for n in m.graph.node:
        if n.op_type == "FIFO":
            for a in n.attribute:
                if a.name == "depth":
                    a.i = 10**12
    m.save(str(w / "df_fifo_huge.onnx"))
    # report folders
    for name, files in {"rep_bad_json": {"estimate.json": "{not json"},
                        "rep_list": {"estimate.json": "[1, 2]"},
                        "rep_missing_keys": {"estimate.json": '{"part": "x"}'},
                        "rep_emulate_bad": {"emulate.json": '{"latency_cycles": "soon"}'},
                        "rep_emulate_str": {"emulate.json": '"hello"'},
                        "rep_nan": {"estimate.json": '{"part": NaN, "total": 3}'},
                        "rep_empty_file": {"estimate.json": ""},
                        "rep_metrics_bad": {"metrics.json": "[]", "estimate.json": "{}"},
                        "rep_nothing": {}}.items():
        (w / name).mkdir()
        for fname, text in files.items():
            (w / name / fname).write_text(text)
    (w / "rep_dir_json").mkdir()
    (w / "rep_dir_json" / "estimate.json").mkdir()
    # sweep files
    (w / "sweep_bad.yaml").write_text("recipe: [unclosed\n")
    (w / "sweep_list.yaml").write_text("- 1\n- 2\n")
    (w / "sweep_empty.yaml").write_text("")
    (w / "sweep_unknown.yaml").write_text("recipe: no-such-recipe\nspace: {}\n")
    (w / "recipe_bad.yaml").write_text("name: [\n")
    (w / "recipe_list.yaml").write_text("- a\n")
    mism = (Path(__file__).resolve().parents[2] / "toolchain/recipes/digits-mlp.yaml").read_text()
    (w / "recipe_input_mismatch.yaml").write_text(mism.replace("input_shape: [64]", "input_shape: [10]")
                                                  .replace("epochs: 40", "epochs: 1"))
    (w / "recipe_nan_lr.yaml").write_text(mism.replace("lr: 0.01", "lr: .nan"))
    _checkpoints(w)
    return w
