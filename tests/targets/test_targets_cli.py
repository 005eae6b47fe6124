"""`hil serve` / `hil run` refusals at the command line (exit 2, one line), and the wire format's own
guarantees (every whitelisted dtype round-trips bit for bit; nothing else can be sent)."""

from __future__ import annotations

import socket
import threading

import json

import numpy as np
import pytest

from tests.conftest import run_cli
from toolchain.errors import UserError
from toolchain.targets import protocol


def one_error_line(run) -> str:
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


def test_serve_pynq_without_the_pynq_package_is_refused_in_one_line():
    import importlib.util

    assert importlib.util.find_spec("pynq") is None  # CI machines have no board: the case under test
    line = one_error_line(run_cli("serve", "--target", "pynq", "--port", "0"))
    assert "needs the pynq package" in line


def test_serve_refuses_a_missing_or_short_token_before_listening(tmp_path, monkeypatch):
    """In-process (the exit-2 one-line path is the same as above): no socket is opened."""
    from toolchain.cli_targets import serve

    monkeypatch.delenv("HIL_TOKEN", raising=False)
    opened = []
    monkeypatch.setattr("toolchain.targets.agent.Agent.bind", lambda *a: opened.append(a))
    options = dict(target="emulator", port=0, host="127.0.0.1", deploy=None, max_bytes=1 << 20,
                   request_timeout=1.0, idle_timeout=1.0, max_connections=2)
    with pytest.raises(UserError, match="a shared token is needed"):
        serve(token_file=None, **options)
    (tmp_path / "short").write_text("abc\n")
    with pytest.raises(UserError, match="at least 16 characters"):
        serve(token_file=tmp_path / "short", **options)
    monkeypatch.setenv("HIL_TOKEN", "two\nlines-of-a-token")
    with pytest.raises(UserError, match="one line"):
        serve(token_file=None, **options)
    assert opened == []


@pytest.mark.parametrize("spec", ["tcp://", "tcp://host", "tcp://host:0", "tcp://host:99999", "udp://h:1"])
def test_remote_addresses_are_checked(spec):
    from toolchain.targets import make_target

    with pytest.raises(UserError):
        make_target(spec, token="t" * 16)


@pytest.mark.parametrize("dtype", sorted(protocol.DTYPES))
def test_every_whitelisted_dtype_round_trips(dtype):
    rng = np.random.default_rng(0)
    a = (rng.random((3, 5, 7)) * 100).astype(dtype)
    b = np.arange(4, dtype=np.float64)
    left, right = socket.socketpair()
    with left, right:
        sender = threading.Thread(target=protocol.send, args=(left, {"op": "x"}, {"a": a, "b": b}))
        sender.start()
        got = protocol.read_frame(right, protocol.Limits(request_timeout=5, idle_timeout=5))
        sender.join()
    assert got.header["op"] == "x" and set(got.arrays) == {"a", "b"}
    assert got.arrays["a"].dtype == a.dtype and np.array_equal(got.arrays["a"], a)
    assert np.array_equal(got.arrays["b"], b)


@pytest.mark.parametrize("a", [np.array([object()]), np.array(["text"]), np.array([True]), np.array([1j])])
def test_only_whitelisted_dtypes_can_be_sent(a):
    with pytest.raises(ValueError, match="cannot be sent"):
        protocol.encode({"op": "x"}, {"a": a})


def test_big_endian_arrays_are_sent_little_endian():
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    parts = protocol.encode({"op": "x"}, {"a": a})
    assert bytes(parts[1]) == np.arange(6, dtype="<i4").tobytes()


def test_narrow_ints_keeps_values():
    for x in (np.array([[-128.0, 127.0]]), np.array([[-129.0, 5.0]]), np.array([[2.0 ** 40]]), np.array([[0.5]])):
        assert np.array_equal(protocol.narrow_ints(x).astype(np.float64), x)
    assert protocol.narrow_ints(np.array([[-128.0, 127.0]])).dtype == np.int8


def test_hil_run_counts_a_target_that_disagrees(design, tmp_path):
    """The comparison is real: a target whose answer differs on one sample (the emulator's outputs with
    one value changed) is reported with 1 mismatch, and its outputs are the ones written."""
    from toolchain.targets.emulator import EmulatorTarget
    from toolchain.targets.run import run_design

    class OffByOne(EmulatorTarget):
        def _run(self, x):
            y, timing = super()._run(x)
            y = y.copy()
            y[len(y) // 2, 0] += 1
            return y, timing

    result = run_design(design.dataflow, design.inputs, "emulator", target=OffByOne(), out=tmp_path / "y.npy")
    assert result["mismatches"] == 1 and result["equality"]["max_abs_diff"] == 1.0
    ok = run_design(design.dataflow, design.inputs, "emulator", out=tmp_path / "y_ok.npy")
    assert ok["mismatches"] == 0
    import jsonschema

    from toolchain.schemas import schema

    for obj in (result, ok):  # the `hil run --json` contract, disagreeing target or not
        jsonschema.validate(json.loads(json.dumps(obj)), schema("run"))
    differs = np.flatnonzero((np.load(tmp_path / "y.npy") != np.load(tmp_path / "y_ok.npy")).any(axis=1))
    assert differs.tolist() == [500]
