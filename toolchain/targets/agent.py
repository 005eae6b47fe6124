"""`hil serve`: the board agent. Answers protocol-v1 requests (toolchain.targets.protocol) for one kind
of target (emulator, csim, pynq), for any design a client loads.

    agent = Agent(lambda: make_target("emulator"), "emulator", token, Limits(request_timeout=5))
    agent.serve(agent.bind("127.0.0.1", 7800))

Requests (header "op"): ping; load (array "design": the dataflow.onnx bytes, uint8) -> its sha256;
run ("design": sha256, array "x": integer inputs) -> array "y" and "timing"; describe ("design").

Every request is authenticated: its "token" is compared with the shared token by hmac.compare_digest
(constant time) before its payload is read. Every frame is bounded in size (header MAX_HEADER, payload
Limits.max_bytes, checked before reading) and in time (Limits.request_timeout from its first byte to
its last, whatever the pace of the bytes: a slow-loris client is cut off; Limits.idle_timeout between
requests). Every refusal is an error reply ({"ok": false, "error": ...}); one that leaves the stream
untrustworthy (bad framing, failed authentication, time limit) also closes that connection; the agent
itself keeps serving. One thread per connection, at most `max_connections` (the next is told "busy"
and closed); the targets compute one request at a time (the C-sim library and a board are single
users). Loaded designs are kept, least recently used first out, up to `max_designs`.
"""

from __future__ import annotations

import hmac
import socket
import sys
import threading
import time
import traceback
from collections import OrderedDict
from typing import Callable, Optional

import numpy as np

from toolchain.errors import UserError
from toolchain.targets import protocol
from toolchain.targets.base import Design, Target

MAX_DESIGNS = 4
MAX_CONNECTIONS = 8


class Agent:
    def __init__(self, factory: Callable[[], Target], target: str, token: str, limits: protocol.Limits,
                 max_connections: int = MAX_CONNECTIONS, max_designs: int = MAX_DESIGNS,
                 log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)):
        self.factory, self.target, self.limits, self.log = factory, target, limits, log
        self._token = token.encode()
        self.max_connections, self.max_designs = max_connections, max_designs
        self._slots = threading.BoundedSemaphore(max_connections)
        self._compute = threading.Lock()  # one request at a time reaches a target
        self._designs: "OrderedDict[str, Target]" = OrderedDict()
        self._designs_lock = threading.Lock()

    # ---- sockets ---------------------------------------------------------------------------------

    @staticmethod
    def bind(host: str, port: int) -> socket.socket:
        try:
            return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                                        backlog=16)
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port} ({err.strerror or err})") from None

    def serve(self, server: socket.socket) -> None:
        """Accept connections until the process is stopped."""
        while True:
            try:
                conn, peer = server.accept()
            except OSError as err:  # out of file descriptors, a connection reset before accept: go on
                self.log(f"hil serve: accept failed: {err}")
                time.sleep(0.05)
                continue
            if not self._slots.acquire(blocking=False):
                self.log(f"hil serve: refused {peer[0]}:{peer[1]}: busy")
                # no lingering drain here: the accept loop must not wait on a client it will not serve
                self._refuse(conn, protocol.ProtocolError(
                    f"busy: this agent serves at most {self.max_connections} connections at once", fatal=True),
                    linger=False)
                continue
            threading.Thread(target=self._connection, args=(conn, peer), daemon=True).start()

    def _connection(self, conn: socket.socket, peer) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                try:
                    header, arrays = self._request(conn)
                except (protocol.PeerClosed, socket.timeout, ConnectionError):
                    return  # closed by the peer, idle too long, or reset
                except protocol.ProtocolError as err:
                    self.log(f"hil serve: refused {peer[0]}:{peer[1]}: {err}")
                    if err.fatal:
                        self._refuse(conn, err)
                        return
                    header, arrays = _error(err), None
                protocol.send(conn, header, arrays, timeout=self.limits.request_timeout)
        except OSError:
            pass  # the peer went away while we answered
        finally:
            conn.close()
            self._slots.release()

    def _refuse(self, conn: socket.socket, err: protocol.ProtocolError, linger: bool = True) -> None:
        """Error reply, then a lingering close: stop sending, read what the peer still sends (briefly,
        boundedly), close; so the peer reads our reply instead of a connection reset."""
        try:
            protocol.send(conn, _error(err), timeout=1.0 if linger else 0.2)
            if not linger:
                return
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(0.5)
            drained = 0
            while drained < (1 << 20) and (chunk := conn.recv(65536)):
                drained += len(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    # ---- one request -----------------------------------------------------------------------------

    def _request(self, conn: socket.socket) -> tuple[dict, Optional[dict]]:
        header_len, payload_len, deadline = protocol.read_prefix(conn, self.limits)
        header = protocol.parse_header(protocol.read_body(conn, header_len, deadline, self.limits))
        self._authenticate(header)  # before the payload is read
        try:
            specs = protocol.array_specs(header, payload_len)
        except protocol.ProtocolError:
            protocol.read_body(conn, payload_len, deadline, self.limits)  # keep the stream in step
            raise
        arrays = protocol.decode_arrays(specs, protocol.read_body(conn, payload_len, deadline, self.limits))
        try:
            return self._dispatch(header, arrays)
        except UserError as err:
            raise protocol.ProtocolError(str(err)) from None
        except Exception as err:  # noqa: BLE001 - the agent answers and keeps serving whatever a target raises
            self.log("hil serve: internal error\n" + traceback.format_exc())
            raise protocol.ProtocolError(f"internal error: {type(err).__name__}: {err}") from None

    def _authenticate(self, header: dict) -> None:
        token = header.get("token")
        if not isinstance(token, str) or not token:
            raise protocol.ProtocolError("authentication failed: the request has no token", fatal=True)
        # surrogatepass: a JSON string may hold lone surrogates; encoding must not fail on them
        if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self._token):
            raise protocol.ProtocolError("authentication failed: wrong token", fatal=True)

    def _dispatch(self, header: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, Optional[dict]]:
        op = header.get("op")
        if op == "ping":
            with self._designs_lock:
                designs = list(self._designs)
            return {"ok": True, "version": protocol.VERSION, "target": self.target,
                    "max_bytes": self.limits.max_bytes, "designs": designs}, None
        if op == "load":
            return self._load(arrays), None
        if op == "run":
            return self._run(header, arrays)
        if op == "describe":
            return {"ok": True, "describe": self._loaded(header).describe()}, None
        raise UserError(f"unknown op {op!r} (ping, load, run, describe)")

    def _load(self, arrays: dict[str, np.ndarray]) -> dict:
        data = arrays.get("design")
        if set(arrays) != {"design"} or data.dtype != np.uint8 or data.ndim != 1:
            raise UserError("load carries one array, design: the dataflow.onnx bytes as uint8, 1-D")
        design = Design.from_bytes(data.tobytes(), "the design sent")
        with self._designs_lock:
            target = self._designs.get(design.digest)
            if target is not None:
                self._designs.move_to_end(design.digest)
        if target is None:
            with self._compute:
                target = self.factory()
                target.load(design)
            with self._designs_lock:
                self._designs[design.digest] = target
                while len(self._designs) > self.max_designs:
                    _, old = self._designs.popitem(last=False)
                    old.close()
        return {"ok": True, "design": design.digest, "describe": target.describe()}

    def _loaded(self, header: dict) -> Target:
        digest = header.get("design")
        with self._designs_lock:
            target = self._designs.get(digest) if isinstance(digest, str) else None
        if target is None:
            raise UserError(f"design {digest!r} is not loaded on this agent (send op load first)")
        return target

    def _run(self, header: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
        target = self._loaded(header)
        if set(arrays) != {"x"}:
            raise UserError("run carries one array, x: the integer inputs (N, ...)")
        with self._compute:
            y, timing = target.run(arrays["x"])
        return {"ok": True, "timing": timing.to_json()}, {"y": protocol.narrow_ints(y)}


def _error(err: protocol.ProtocolError) -> dict:
    return {"ok": False, "error": str(err), "fatal": err.fatal}
