"""A tiny client for the proxy's stats endpoint and a parser for the Prometheus text
format. Stateless; request() opens its own connection, read_response() reads one
response from a caller's socket."""
import json
import re
import socket

from .client import recv_until_closed
from .wait import Deadline

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def request(port: int, path: str, timeout: float, method="GET", raw=None):
    """(status, headers dict, body bytes) of one HTTP/1.1 request with Connection: close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with s:
        if raw is None:
            raw = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Connection: close\r\n\r\n").encode()
        s.sendall(raw)
        data, _ = recv_until_closed(s, timeout)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0] if lines else "")
    if not m:
        raise AssertionError(f"not an HTTP response: {data[:200]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return int(m.group(1)), headers, body


def parse_metrics(text: str) -> dict:
    """{(name, frozenset(labels.items())): float} for every sample line."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError(f"malformed metrics line: {line!r}")
        labels = dict(_LABEL.findall(m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def metric(samples: dict, name: str, **labels):
    """The value of one series, or None when it is absent."""
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def get_metrics(port: int, timeout: float) -> dict:
    status, _, body = request(port, "/metrics", timeout)
    if status != 200:
        raise AssertionError(f"/metrics answered {status}")
    return parse_metrics(body.decode())


def get_stats(port: int, timeout: float) -> dict:
    status, _, body = request(port, "/stats", timeout)
    if status != 200:
        raise AssertionError(f"/stats answered {status}")
    return json.loads(body)


def read_response(s: socket.socket, buf: bytearray, deadline: Deadline):
    """One response from `s` (bytes already read are in `buf`; what follows the response
    stays there): (status, headers with lower-case names, body). Needs Content-Length."""
    while b"\r\n\r\n" not in buf:
        _recv_into(s, buf, deadline, "a response head")
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
    if not m:
        raise AssertionError(f"not an HTTP status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise AssertionError(f"malformed header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise AssertionError(f"response without Content-Length: {head!r}")
    length = int(headers["content-length"])
    buf[:] = rest
    while len(buf) < length:
        _recv_into(s, buf, deadline, f"a {length}-byte body")
    body = bytes(buf[:length])
    del buf[:length]
    return int(m.group(1)), headers, body


def _recv_into(s, buf, deadline, what):
    s.settimeout(deadline.remaining())
    try:
        data = s.recv(1 << 16)
    except socket.timeout:
        raise AssertionError(f"no {what} within {deadline.seconds:.1f}s "
                             f"(have {bytes(buf[:200])!r})") from None
    if not data:
        raise AssertionError(f"EOF before {what} (have {bytes(buf[:200])!r})")
    buf += data


def admin(target, method: str, path: str, timeout: float, body=None):
    """(status, parsed JSON or None) of one admin API request with Connection: close;
    `target` is a TCP port (127.0.0.1) or a unix socket path."""
    if isinstance(target, int):
        s = socket.create_connection(("127.0.0.1", target), timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(target)
    with s:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else (body or b"")
        head = (f"{method} {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        s.sendall(head + data)
        buf = bytearray()
        status, _, payload = read_response(s, buf, Deadline(timeout))
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        raise AssertionError(f"admin {method} {path}: not JSON: {payload[:200]!r}") from None
