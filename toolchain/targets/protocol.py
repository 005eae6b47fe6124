"""The board agent's wire protocol (version 1): length-prefixed frames, a JSON header, raw array bytes.

    frame   = prefix · header · payload
    prefix  = struct "!4sB3xIQ": magic b"HIL1", version (1), 3 zero bytes, header length, payload length
    header  = UTF-8 JSON object (at most MAX_HEADER bytes): {"op": ..., "token": ..., "arrays": [spec, ...]}
    payload = the arrays' raw bytes, C order, concatenated in the order of "arrays"
    spec    = {"name": str, "dtype": one of DTYPES (explicit byte order), "shape": [int, ...]}

Arrays travel as dtype + shape + bytes and are rebuilt with numpy.frombuffer: nothing is ever
unpickled (numpy's own .npy loader can unpickle object arrays; we never call it on the wire). Every
length is checked against a bound before anything is allocated (docs/targets.md, "Limits").
The reply is a frame of the same format: {"ok": true, ...} with arrays, or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

VERSION = 1
MAGIC = b"HIL1"
PREFIX = struct.Struct("!4sB3xIQ")
MAX_HEADER = 64 * 1024  # a header is a few hundred bytes; 64 KiB bounds a hostile one
MAX_ARRAYS = 4
MAX_NDIM = 8
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # payload bound (an agent's --max-bytes)
# numeric dtypes only, byte order explicit: no object, string, void or structured dtypes on the wire
DTYPES = frozenset({"|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<i8", "<f4", "<f8"})


class ProtocolError(Exception):
    """A request the agent refuses. `fatal`: the stream can no longer be trusted (bad framing, failed
    authentication, time limit), so the agent replies and closes the connection; otherwise the
    connection stays open for the next request."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


class PeerClosed(Exception):
    """The peer closed the connection (between frames: a normal end; inside a frame: truncated)."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES  # payload of one frame
    request_timeout: float = 30.0  # seconds from a frame's first byte to its last (slow-loris bound)
    idle_timeout: float = 300.0  # seconds an open connection may wait between frames


@dataclass(frozen=True)
class Frame:
    header: dict
    arrays: dict[str, np.ndarray]


def _recv_exact(sock: socket.socket, n: int, deadline: float, started: bool) -> bytes:
    """n bytes before `deadline` (time.monotonic), re-arming the socket timeout before every read so that
    a peer sending one byte at a time cannot stretch a request past the deadline."""
    chunks, got = [], 0
    while got < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        sock.settimeout(remaining)
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise PeerClosed("truncated frame" if started or got else "closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_prefix(sock: socket.socket, limits: Limits) -> tuple[int, int, float]:
    """(header length, payload length, deadline of this frame). Waits up to idle_timeout for the first
    byte; from then on the whole frame must arrive within request_timeout."""
    sock.settimeout(limits.idle_timeout)
    first = sock.recv(1)  # socket.timeout here: an idle connection, closed by the caller
    if not first:
        raise PeerClosed("closed")
    deadline = time.monotonic() + limits.request_timeout
    try:
        raw = first + _recv_exact(sock, PREFIX.size - 1, deadline, True)
    except socket.timeout:
        raise ProtocolError(f"request not received within {limits.request_timeout:g} s", fatal=True) from None
    magic, version, header_len, payload_len = PREFIX.unpack(raw)
    if magic != MAGIC:
        raise ProtocolError("malformed frame: bad magic (not a hil agent request)", fatal=True)
    if version != VERSION:
        raise ProtocolError(f"unsupported protocol version {version}; this agent speaks version {VERSION}", fatal=True)
    if header_len == 0 or header_len > MAX_HEADER:
        raise ProtocolError(f"malformed frame: header of {header_len} bytes (1..{MAX_HEADER})", fatal=True)
    if payload_len > limits.max_bytes:
        raise ProtocolError(f"payload of {payload_len} bytes is over this agent's limit of {limits.max_bytes}",
                            fatal=True)
    return header_len, payload_len, deadline


def read_body(sock: socket.socket, n: int, deadline: float, limits: Limits) -> bytes:
    try:
        return _recv_exact(sock, n, deadline, True)
    except socket.timeout:
        raise ProtocolError(f"request not received within {limits.request_timeout:g} s", fatal=True) from None


def parse_header(raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: 64 KiB of nested brackets
        raise ProtocolError("malformed frame: the header is not UTF-8 JSON", fatal=True) from None
    if not isinstance(header, dict):
        raise ProtocolError("malformed frame: the header is not a JSON object", fatal=True)
    return header


def array_specs(header: dict, payload_len: int) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
    """The header's array specs, checked: whitelisted dtypes, bounded rank, and sizes that add up to the
    payload exactly (so no array is ever sized by a number the payload does not back)."""
    specs = header.get("arrays", [])
    if not isinstance(specs, list) or len(specs) > MAX_ARRAYS:
        raise ProtocolError(f"'arrays' must be a list of at most {MAX_ARRAYS} array specs")
    out, total, names = [], 0, set()
    for spec in specs:
        if not isinstance(spec, dict) or set(spec) != {"name", "dtype", "shape"}:
            raise ProtocolError("an array spec is an object with exactly name, dtype and shape")
        name, dtype, shape = spec["name"], spec["dtype"], spec["shape"]
        if not isinstance(name, str) or not name or name in names:
            raise ProtocolError("array names must be distinct non-empty strings")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise ProtocolError(f"array {name!r}: dtype {dtype!r} is not allowed (one of {', '.join(sorted(DTYPES))})")
        if (not isinstance(shape, list) or len(shape) > MAX_NDIM
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= payload_len for d in shape)):
            raise ProtocolError(f"array {name!r}: shape must be a list of at most {MAX_NDIM} non-negative integers "
                                "no larger than the payload")
        dt = np.dtype(dtype)
        nbytes = math.prod(shape) * dt.itemsize  # Python ints: no overflow
        total += nbytes
        if total > payload_len:
            break
        names.add(name)
        out.append((name, dt, tuple(shape)))
    if total != payload_len:
        raise ProtocolError(f"the arrays' dtypes and shapes give {total} bytes, the frame carries {payload_len}")
    return out


def decode_arrays(specs, payload: bytes) -> dict[str, np.ndarray]:
    arrays, offset = {}, 0
    for name, dt, shape in specs:
        count = math.prod(shape)
        arrays[name] = np.frombuffer(payload, dtype=dt, count=count, offset=offset).reshape(shape)
        offset += count * dt.itemsize
    return arrays


def wire_array(a: np.ndarray) -> np.ndarray:
    """a as a C-contiguous little-endian array of a whitelisted dtype (ValueError otherwise)."""
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    if a.dtype.str not in DTYPES:
        raise ValueError(f"dtype {a.dtype} cannot be sent (one of {', '.join(sorted(DTYPES))})")
    return a


def narrow_ints(x: np.ndarray) -> np.ndarray:
    """Integer-valued inputs in the narrowest whitelisted integer dtype that holds them (8x fewer bytes
    on the wire than float64 for 8-bit inputs); float64 when they are not integers."""
    if x.size == 0 or not np.array_equal(x, np.round(x)):
        return x.astype(np.float64)
    lo, hi = x.min(), x.max()
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if lo >= info.min and hi <= info.max:
            return x.astype(dt)
    return x.astype(np.int64)


def encode(header: dict, arrays: Optional[dict[str, np.ndarray]] = None) -> list[bytes]:
    """The frame's parts (prefix + header, then each array's bytes)."""
    arrays = {k: wire_array(v) for k, v in (arrays or {}).items()}
    specs = [{"name": k, "dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()]
    header = {**header, "arrays": specs}
    raw = json.dumps(header, separators=(",", ":")).encode()
    if len(raw) > MAX_HEADER:
        raise ValueError(f"header of {len(raw)} bytes is over {MAX_HEADER}")
    payload = sum(v.nbytes for v in arrays.values())
    return [PREFIX.pack(MAGIC, VERSION, len(raw), payload) + raw] + [memoryview(v).cast("B") for v in arrays.values()]


def send(sock: socket.socket, header: dict, arrays: Optional[dict[str, np.ndarray]] = None,
         timeout: Optional[float] = None) -> None:
    sock.settimeout(timeout)
    for part in encode(header, arrays):
        sock.sendall(part)


def read_frame(sock: socket.socket, limits: Limits) -> Frame:
    """One whole frame (the client reads replies with it; the agent reads requests in steps, to check
    the token before it reads a payload)."""
    header_len, payload_len, deadline = read_prefix(sock, limits)
    header = parse_header(read_body(sock, header_len, deadline, limits))
    specs = array_specs(header, payload_len)
    return Frame(header, decode_arrays(specs, read_body(sock, payload_len, deadline, limits)))
