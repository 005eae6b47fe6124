"""A board agent (`hil serve`) as a target, over TCP: `--target tcp://HOST:PORT`.

    target = RemoteTarget("tcp://127.0.0.1:7800", token)
    target.load(design)          # sends the design's bytes; the agent answers with their sha256
    y, timing = target.run(x)    # timing.seconds: the agent's; timing.round_trip_seconds: ours

One connection per target, one request at a time (toolchain.targets.protocol). The client bounds
what it reads too: a reply over `max_bytes` or slower than `timeout` is an error, never an allocation.
"""

from __future__ import annotations

import socket
import time
from typing import Optional

import numpy as np

from toolchain.errors import UserError
from toolchain.targets import protocol
from toolchain.targets.base import Design, Target, Timing

DEFAULT_TIMEOUT = 600.0  # a C-sim agent compiles on its first load (tens of seconds)


def parse_address(spec: str) -> tuple[str, int]:
    """tcp://HOST:PORT -> (HOST, PORT), or UserError."""
    rest = spec[len("tcp://"):] if spec.startswith("tcp://") else None
    host, _, port = (rest or "").rpartition(":")
    host = host.strip("[]")  # [::1]:7800
    if rest is None or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--target {spec!r}: a remote target is tcp://HOST:PORT")
    return host, int(port)


class RemoteTarget(Target):
    name = "remote"

    def __init__(self, address: str, token: str, timeout: float = DEFAULT_TIMEOUT,
                 max_bytes: int = 4 * protocol.DEFAULT_MAX_BYTES) -> None:
        super().__init__()
        self.address = address
        self.host, self.port = parse_address(address)
        self.token = token
        self.timeout = timeout
        self.limits = protocol.Limits(max_bytes=max_bytes, request_timeout=timeout, idle_timeout=timeout)
        self._sock: Optional[socket.socket] = None
        self.agent: dict = {}

    def _connect(self) -> socket.socket:
        if self._sock is None:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=min(self.timeout, 10.0))
            except OSError as err:
                raise UserError(f"cannot reach the agent at {self.address} ({err.strerror or err})") from None
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def request(self, header: dict, arrays: Optional[dict] = None) -> protocol.Frame:
        """Send one request, return the reply; UserError for an error reply or a broken connection."""
        sock = self._connect()
        try:
            protocol.send(sock, {**header, "token": self.token}, arrays, timeout=self.timeout)
            reply = protocol.read_frame(sock, self.limits)
        except (OSError, protocol.PeerClosed, protocol.ProtocolError) as err:
            self.close()
            raise UserError(f"agent at {self.address}: connection failed ({err})") from None
        if reply.header.get("ok") is not True:
            if reply.header.get("fatal"):
                self.close()
            raise UserError(f"agent at {self.address}: {reply.header.get('error', 'error reply without a message')}")
        return reply

    def ping(self) -> dict:
        return self.request({"op": "ping"}).header

    def _load(self, design: Design) -> None:
        self.agent = self.ping()
        reply = self.request({"op": "load"}, {"design": np.frombuffer(design.data, dtype=np.uint8)})
        if reply.header.get("design") != design.digest:
            raise UserError(f"agent at {self.address} loaded design {reply.header.get('design')}, "
                            f"not {design.digest}")
        self.agent = {**self.agent, "loaded": reply.header.get("describe")}

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, Optional[Timing]]:
        t0 = time.perf_counter()
        reply = self.request({"op": "run", "design": self.design.digest}, {"x": protocol.narrow_ints(x)})
        trip = time.perf_counter() - t0
        if set(reply.arrays) != {"y"}:
            raise UserError(f"agent at {self.address}: the reply carries {sorted(reply.arrays)}, expected y")
        try:
            timing = Timing.from_json(reply.header.get("timing"))
        except (ValueError, TypeError, KeyError) as err:
            raise UserError(f"agent at {self.address}: bad timing in the reply ({err})") from None
        return np.array(reply.arrays["y"], dtype=np.float64), Timing(**{**timing.__dict__, "round_trip_seconds": trip})

    def describe(self) -> dict:
        return {**super().describe(), "address": self.address,
                "agent": (self.agent.get("loaded") or {}).get("target", self.agent.get("target"))}

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
