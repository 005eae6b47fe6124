"""Issue 11 acceptance: the agent refuses bad requests with an error reply and no crash, and keeps
serving. One real `hil serve --target emulator` process (request time limit 0.5 s, payload limit
256 KiB, 3 connections) takes every bad request below; after each one, and at the end of the module,
it still answers a good request (a 1,000-sample run equal to the local emulator)."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

from tests.targets.conftest import MAX_BYTES, MAX_CONNECTIONS, REQUEST_TIMEOUT, SAMPLES, wait_for
from toolchain.targets import protocol


@pytest.fixture(scope="module")
def agent(emulator_agent):
    return emulator_agent


@pytest.fixture(scope="module")
def loaded(design, agent):
    """The design's Design object, its integer inputs and the local emulator's outputs of them; the
    design loaded on the agent."""
    from toolchain.targets.base import Design
    from toolchain.targets.emulator import EmulatorTarget
    from toolchain.targets.remote import RemoteTarget
    from toolchain.targets.run import stream_of

    d = Design.from_file(design.dataflow)
    x = stream_of(d, design.dataflow)(np.load(design.inputs))
    client = RemoteTarget(agent.address, agent.token)
    client.load(d)
    client.close()
    local = EmulatorTarget()
    local.load(d)
    return d, x, local.run(x)[0]


def connect(agent) -> socket.socket:
    return socket.create_connection((agent.host, agent.port), timeout=5)


def frame(header: dict, payload: bytes = b"", version: int = protocol.VERSION, magic: bytes = protocol.MAGIC) -> bytes:
    raw = json.dumps(header).encode()
    return protocol.PREFIX.pack(magic, version, len(raw), len(payload)) + raw + payload


def reply(sock: socket.socket) -> dict:
    return protocol.read_frame(sock, protocol.Limits(request_timeout=10, idle_timeout=10)).header


def closed_by_agent(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def assert_refused(r: dict, *words: str) -> None:
    assert r["ok"] is False, r
    for word in words:
        assert word in r["error"], r["error"]


def assert_still_serving(agent, loaded, samples: int = 50) -> None:
    """The agent process is alive and answers a good run, equal to the local emulator."""
    from toolchain.targets.remote import RemoteTarget

    d, x, y_ref = loaded
    assert agent.proc.poll() is None
    client = RemoteTarget(agent.address, agent.token)
    try:
        client.design = d  # loaded by the fixture: run directly on its hash
        y, timing = client.run(x[:samples])
    finally:
        client.close()
    assert np.array_equal(y, y_ref[:samples]) and timing.samples == samples


def run_header(agent, loaded, **more) -> dict:
    return {"op": "run", "token": agent.token, "design": loaded[0].digest, **more}


def test_missing_token(agent, loaded):
    with connect(agent) as s:
        s.sendall(frame({"op": "ping"}))
        assert_refused(reply(s), "authentication failed", "no token")
        assert closed_by_agent(s)
    assert_still_serving(agent, loaded)


def test_wrong_token(agent, loaded):
    with connect(agent) as s:
        s.sendall(frame({"op": "ping", "token": agent.token[:-1] + ("0" if agent.token[-1] != "0" else "1")}))
        assert_refused(reply(s), "authentication failed", "wrong token")
        assert closed_by_agent(s)
    assert_still_serving(agent, loaded)


def test_a_wrong_token_is_refused_before_the_payload_is_read(agent, loaded):
    """An unauthenticated client cannot make the agent buffer a payload: the reply comes while the
    declared payload is still unsent."""
    with connect(agent) as s:
        raw = json.dumps({"op": "run", "token": "x" * 32}).encode()
        s.sendall(protocol.PREFIX.pack(protocol.MAGIC, protocol.VERSION, len(raw), 1000) + raw)
        assert_refused(reply(s), "authentication failed")
    assert_still_serving(agent, loaded)


def test_payload_over_the_limit(agent, loaded):
    x = np.zeros((MAX_BYTES // 64 + 1, 64), dtype=np.int8)  # one sample more than --max-bytes holds
    with connect(agent) as s:
        raw = json.dumps(run_header(agent, loaded, arrays=[{"name": "x", "dtype": "|i1",
                                                             "shape": list(x.shape)}])).encode()
        s.sendall(protocol.PREFIX.pack(protocol.MAGIC, protocol.VERSION, len(raw), x.nbytes) + raw)
        assert_refused(reply(s), "over this agent's limit", str(MAX_BYTES))
        assert closed_by_agent(s)
    assert_still_serving(agent, loaded)


def test_header_over_the_limit(agent, loaded):
    with connect(agent) as s:
        s.sendall(protocol.PREFIX.pack(protocol.MAGIC, protocol.VERSION, protocol.MAX_HEADER + 1, 0))
        assert_refused(reply(s), "malformed frame", "header")
    assert_still_serving(agent, loaded)


def test_bad_magic(agent, loaded):
    with connect(agent) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert_refused(reply(s), "malformed frame", "magic")
        assert closed_by_agent(s)
    assert_still_serving(agent, loaded)


def test_header_not_json(agent, loaded):
    with connect(agent) as s:
        s.sendall(protocol.PREFIX.pack(protocol.MAGIC, protocol.VERSION, 9, 0) + b"{not json")
        assert_refused(reply(s), "not UTF-8 JSON")
    assert_still_serving(agent, loaded)


def test_deeply_nested_header(agent, loaded):
    raw = b"[" * 30000 + b"]" * 30000  # valid JSON within the header limit, deeper than Python's recursion
    with connect(agent) as s:
        s.sendall(protocol.PREFIX.pack(protocol.MAGIC, protocol.VERSION, len(raw), 0) + raw)
        assert_refused(reply(s), "not UTF-8 JSON")
    assert_still_serving(agent, loaded)


def test_token_with_a_lone_surrogate(agent, loaded):
    raw = b'{"op": "ping", "token": "\\ud800' + b"a" * 31 + b'"}'
    with connect(agent) as s:
        s.sendall(protocol.PREFIX.pack(protocol.MAGIC, protocol.VERSION, len(raw), 0) + raw)
        assert_refused(reply(s), "wrong token")
    assert_still_serving(agent, loaded)


def test_header_not_an_object(agent, loaded):
    with connect(agent) as s:
        s.sendall(frame([agent.token, "ping"]))  # JSON, but a list
        assert_refused(reply(s), "not a JSON object")
    assert_still_serving(agent, loaded)


def test_unknown_protocol_version(agent, loaded):
    with connect(agent) as s:
        s.sendall(frame({"op": "ping", "token": agent.token}, version=2))
        assert_refused(reply(s), "unsupported protocol version 2", "version 1")
    assert_still_serving(agent, loaded)


def test_unknown_op_keeps_the_connection(agent, loaded):
    with connect(agent) as s:
        s.sendall(frame({"op": "reboot", "token": agent.token}))
        assert_refused(reply(s), "unknown op 'reboot'")
        s.sendall(frame({"op": "ping", "token": agent.token}))  # the same connection serves on
        r = reply(s)
        assert r["ok"] is True and r["version"] == protocol.VERSION and r["target"] == "emulator"
    assert_still_serving(agent, loaded)


@pytest.mark.parametrize("dtype", ["|O", "<U4", ">f8", "|b1", "<c16"])
def test_dtypes_outside_the_whitelist(agent, loaded, dtype):
    """No object (pickle), string, big-endian, bool or complex arrays; the payload is drained, so the
    connection stays in step and answers the next request."""
    size = np.dtype(dtype.replace("|O", "<i8")).itemsize * 64
    with connect(agent) as s:
        s.sendall(frame(run_header(agent, loaded, arrays=[{"name": "x", "dtype": dtype, "shape": [1, 64]}]),
                        b"\0" * size))
        assert_refused(reply(s), "is not allowed")
        s.sendall(frame({"op": "ping", "token": agent.token}))
        assert reply(s)["ok"] is True
    assert_still_serving(agent, loaded)


def test_wrong_shape(agent, loaded):
    x = np.zeros((5, 63), dtype=np.int8)
    with connect(agent) as s:
        s.sendall(frame(run_header(agent, loaded, arrays=[{"name": "x", "dtype": "|i1", "shape": [5, 63]}]),
                        x.tobytes()))
        assert_refused(reply(s), "shape (5, 63)", "(N, 64)")
    assert_still_serving(agent, loaded)


def test_shape_and_payload_disagree(agent, loaded):
    with connect(agent) as s:
        s.sendall(frame(run_header(agent, loaded, arrays=[{"name": "x", "dtype": "<f8", "shape": [10, 64]}]),
                        b"\0" * 640))  # 10x64 float64 is 5,120 bytes
        assert_refused(reply(s), "5120 bytes", "carries 640")
    assert_still_serving(agent, loaded)


def test_negative_and_huge_dimensions(agent, loaded):
    with connect(agent) as s:
        for shape in ([-1, 64], [2 ** 40, 2 ** 40]):
            spec = {"name": "x", "dtype": "|i1", "shape": shape}
            s.sendall(frame(run_header(agent, loaded, arrays=[spec]), b"\0" * 64))
            assert_refused(reply(s), "shape")
    assert_still_serving(agent, loaded)


@pytest.mark.parametrize("bad, words", [(200, ("outside", "INT8")), (0.5, ("integers",))])
def test_inputs_off_the_input_stream(agent, loaded, bad, words):
    x = np.zeros((4, 64))
    x[2, 7] = bad
    with connect(agent) as s:
        s.sendall(frame(run_header(agent, loaded, arrays=[{"name": "x", "dtype": "<f8", "shape": [4, 64]}]),
                        x.tobytes()))
        assert_refused(reply(s), *words)
    assert_still_serving(agent, loaded)


def test_run_on_a_design_not_loaded(agent, loaded):
    with connect(agent) as s:
        s.sendall(frame(run_header(agent, loaded, design="0" * 64,
                                   arrays=[{"name": "x", "dtype": "|i1", "shape": [1, 64]}]), b"\0" * 64))
        assert_refused(reply(s), "is not loaded")
    assert_still_serving(agent, loaded)


def test_load_of_bytes_that_are_not_onnx(agent, loaded):
    junk = b"\x80\x04\x95" + b"pickle-like bytes, never unpickled" * 3
    with connect(agent) as s:
        s.sendall(frame({"op": "load", "token": agent.token,
                         "arrays": [{"name": "design", "dtype": "|u1", "shape": [len(junk)]}]}, junk))
        assert_refused(reply(s), "not an ONNX model")
    assert_still_serving(agent, loaded)


def test_load_of_a_model_that_is_not_a_dataflow_graph(agent, loaded, design):
    data = design.source.read_bytes()  # the QONNX source: qonnx / onnx domains, not hw.ops
    with connect(agent) as s:
        s.sendall(frame({"op": "load", "token": agent.token,
                         "arrays": [{"name": "design", "dtype": "|u1", "shape": [len(data)]}]}, data))
        assert_refused(reply(s), "is not a hw.ops dataflow node")
    assert_still_serving(agent, loaded)


def test_load_of_a_design_naming_external_files(agent, loaded, design):
    """A tensor stored as external data would make the agent read a file of its own machine."""
    import onnx

    proto = onnx.load(str(design.dataflow))
    t = proto.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    t.external_data.add(key="location", value="../../../../etc/passwd")
    data = proto.SerializeToString()
    with connect(agent) as s:
        s.sendall(frame({"op": "load", "token": agent.token,
                         "arrays": [{"name": "design", "dtype": "|u1", "shape": [len(data)]}]}, data))
        assert_refused(reply(s), "external data")
    assert_still_serving(agent, loaded)


def test_slow_loris_is_cut_off_at_the_request_time_limit(agent, loaded):
    """One byte every 0.1 s: each read is prompt, the request is not. The agent refuses it once
    --request-timeout (0.5 s) has passed since its first byte, and serves others meanwhile."""
    data = frame({"op": "ping", "token": agent.token})
    with connect(agent) as s:
        t0 = time.monotonic()
        refused = None
        for i, byte in enumerate(data):
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break
            if i == 2:
                assert_still_serving(agent, loaded, samples=5)  # another connection, while this one trickles
            time.sleep(0.1)
            s.settimeout(0.001)
            try:
                if s.recv(1, socket.MSG_PEEK):
                    refused = time.monotonic() - t0
                    break
            except (BlockingIOError, socket.timeout):
                pass
            if time.monotonic() - t0 > 10:
                break
        assert refused is not None, "the agent never refused the slow request"
        assert REQUEST_TIMEOUT <= refused < REQUEST_TIMEOUT + 3
        assert_refused(reply(s), f"not received within {REQUEST_TIMEOUT:g} s")
        assert closed_by_agent(s)
    assert_still_serving(agent, loaded)


def test_truncated_frame(agent, loaded):
    data = frame({"op": "ping", "token": agent.token})
    with connect(agent) as s:
        s.sendall(data[: len(data) // 2])  # then the client goes away
    assert_still_serving(agent, loaded)


def test_connections_over_the_cap_are_told_busy(agent, loaded):
    held = [connect(agent) for _ in range(MAX_CONNECTIONS)]
    try:
        for s in held:  # each connection is being served (its thread answered a ping)
            s.sendall(frame({"op": "ping", "token": agent.token}))
            assert reply(s)["ok"] is True
        with connect(agent) as extra:
            assert_refused(reply(extra), "busy", f"at most {MAX_CONNECTIONS}")
    finally:
        for s in held:
            s.close()
    assert wait_for(lambda: _pings(agent))
    assert_still_serving(agent, loaded)


def _pings(agent) -> bool:
    with connect(agent) as s:
        s.sendall(frame({"op": "ping", "token": agent.token}))
        return reply(s).get("ok") is True


def test_after_every_refusal_the_agent_answers_1000_samples(agent, loaded):
    """Last in the module: the same agent process, after every bad request above."""
    from toolchain.targets.remote import RemoteTarget

    d, x, y_ref = loaded
    assert len(x) == SAMPLES and agent.proc.poll() is None
    client = RemoteTarget(agent.address, agent.token)
    client.load(d)
    y, timing = client.run(x)
    client.close()
    assert np.array_equal(y, y_ref) and timing.samples == SAMPLES
    log = agent.log.read_text()
    assert "internal error" not in log and "Traceback" not in log  # every refusal was a checked one
    assert log.count("refused") >= 20
