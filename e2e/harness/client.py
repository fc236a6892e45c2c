"""Client-side helpers: blocking sockets with deadlines for the small tests, and an asyncio
echo transfer for the concurrent ones. Sockets are owned by the caller; no shared state
except the read-only random pool."""
import asyncio
import hashlib
import random
import socket
import time

from .wait import Deadline

_POOL = random.Random(0xA2B5).randbytes(16 << 20)
_POOL_VIEW = memoryview(_POOL)
CHUNK_MAX = 256 * 1024


def connect(port: int, timeout: float) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s: socket.socket, n: int, timeout: float) -> bytes:
    """Exactly n bytes, or AssertionError saying how many arrived and why it stopped."""
    d = Deadline(timeout)
    buf = bytearray()
    while len(buf) < n:
        s.settimeout(d.remaining())
        try:
            data = s.recv(min(n - len(buf), 1 << 20))
        except socket.timeout:
            raise AssertionError(f"got {len(buf)} of {n} bytes within {timeout:.1f}s") from None
        except ConnectionResetError:
            raise AssertionError(f"connection reset after {len(buf)} of {n} bytes") from None
        if not data:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += data
    return bytes(buf)


def recv_until_closed(s: socket.socket, timeout: float) -> tuple[bytes, str]:
    """All bytes until the peer closes: (data, 'eof' | 'reset'). AssertionError if the
    connection is still open when the deadline passes."""
    d = Deadline(timeout)
    buf = bytearray()
    while True:
        s.settimeout(d.remaining())
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout:.1f}s "
                                 f"({len(buf)} bytes received)") from None
        except ConnectionResetError:
            return bytes(buf), "reset"
        if not data:
            return bytes(buf), "eof"
        buf += data


def expect_closed(port: int, timeout: float, send: bytes = b"") -> str:
    """Connect and expect the proxy to close us: 'refused', 'eof' or 'reset'. Optionally
    sends `send` first (errors ignored: the proxy may already have closed)."""
    try:
        s = connect(port, timeout)
    except ConnectionRefusedError:
        return "refused"
    with s:
        if send:
            try:
                s.sendall(send)
            except OSError:
                pass
        _, how = recv_until_closed(s, timeout)
        return how


def roundtrip(s: socket.socket, message: bytes, timeout: float):
    """Send message and expect it echoed back."""
    s.sendall(message)
    got = recv_exact(s, len(message), timeout)
    if got != message:
        raise AssertionError(f"echo mismatch: sent {message[:40]!r}, got {got[:40]!r}")


def payload_chunks(seed: int, length: int, chunk_max: int = CHUNK_MAX):
    """A deterministic pseudo-random stream of `length` bytes, as memoryview chunks cut
    from random offsets of a random pool (cheap, and no two chunks share an offset
    pattern, so reordering or duplication changes the digest)."""
    rng = random.Random(seed)
    left = length
    while left:
        n = min(left, rng.randint(1, chunk_max))
        off = rng.randrange(0, len(_POOL) - n)
        yield _POOL_VIEW[off:off + n]
        left -= n


def payload_bytes(seed: int, length: int) -> bytes:
    return b"".join(payload_chunks(seed, length))


def payload_digest(seed: int, length: int) -> str:
    h = hashlib.sha256()
    for c in payload_chunks(seed, length):
        h.update(c)
    return h.hexdigest()


class TransferResult:
    def __init__(self, index, length):
        self.index = index
        self.length = length
        self.sent_sha = None
        self.received = 0
        self.received_sha = None
        self.ended = None      # 'eof' | 'reset' | 'exact'
        self.error = None

    def ok(self) -> bool:
        return self.error is None and self.received == self.length and \
            self.sent_sha == self.received_sha

    def describe(self) -> str:
        return (f"conn {self.index}: sent {self.length} received {self.received} ended={self.ended} "
                f"match={self.sent_sha == self.received_sha} error={self.error!r}")


async def echo_transfer(port: int, index: int, seed: int, length: int, half_close: bool,
                        timeout: float, pace_s: float = 0.0, on_progress=None,
                        chunk_max: int = CHUNK_MAX, expect=None) -> TransferResult:
    """Send `length` bytes to an echo path while reading the echo concurrently (reading
    while writing avoids a backpressure deadlock). half_close: shut the write side after
    sending and read until EOF; else read exactly `length` bytes, then close.
    pace_s sleeps between chunks; on_progress(sent_bytes) is called after each chunk.
    expect(chunk) -> bytes maps sent bytes to the bytes expected back (byte-wise filters)."""
    res = TransferResult(index, length)
    sent_h, recv_h = hashlib.sha256(), hashlib.sha256()

    async def run():
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            async def write_all():
                sent = 0
                for chunk in payload_chunks(seed, length, chunk_max):
                    writer.write(chunk)
                    sent_h.update(expect(chunk) if expect else chunk)
                    sent += len(chunk)
                    await writer.drain()
                    if on_progress:
                        on_progress(sent)
                    if pace_s:
                        await asyncio.sleep(pace_s)
                if half_close:
                    writer.write_eof()

            async def read_all():
                while True:
                    want = 1 << 20 if half_close else min(1 << 20, length - res.received)
                    if want == 0:
                        res.ended = "exact"
                        return
                    try:
                        data = await reader.read(want)
                    except ConnectionResetError:
                        res.ended = "reset"
                        return
                    if not data:
                        res.ended = "eof"
                        return
                    recv_h.update(data)
                    res.received += len(data)

            await asyncio.gather(write_all(), read_all())
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        res.error = f"timed out after {timeout:.1f}s"
    except OSError as e:
        res.error = e
    res.sent_sha, res.received_sha = sent_h.hexdigest(), recv_h.hexdigest()
    if half_close and res.error is None and res.ended != "eof":
        res.error = f"expected EOF after the echo, got {res.ended}"
    return res


def elapsed_since(t0: float) -> float:
    return time.monotonic() - t0
