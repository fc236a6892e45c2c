"""Fake backends: asyncio TCP servers on 127.0.0.1, each run by its own event-loop thread.
Counters and records are written only by that thread and read by the test thread; single
attribute reads are atomic under the GIL, and tests poll them with deadlines."""
import asyncio
import hashlib
import threading

from .ports import free_port

HEAD_BYTES = 64 * 1024
BACKLOG = 4096


class ConnRecord:
    """What one accepted connection delivered to the backend."""

    def __init__(self, peer):
        self.peer = peer
        self.received = 0
        self.head = bytearray()       # the first HEAD_BYTES bytes, for content checks
        self.sha = hashlib.sha256()
        self.eof_after = None         # bytes received when EOF arrived; None = no EOF yet
        self.sent = 0
        self.closed = False
        self.error = None
        self.probe = None             # probe_or_echo: True for a health probe

    def feed(self, data: bytes):
        self.received += len(data)
        self.sha.update(data)
        if len(self.head) < HEAD_BYTES:
            self.head += data[:HEAD_BYTES - len(self.head)]


class _EchoProtocol(asyncio.Protocol):
    """Echo with backpressure: stop reading while our send buffer is over its high mark.
    On EOF, close after the echo is flushed (the transport flushes before closing)."""

    def __init__(self, backend):
        self.backend = backend
        self.rec = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=256 * 1024)
        self.rec = self.backend._opened(transport.get_extra_info("peername"), transport)

    def data_received(self, data):
        self.rec.feed(data)
        self.rec.sent += len(data)
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def eof_received(self):
        self.rec.eof_after = self.rec.received
        return False

    def connection_lost(self, exc):
        self.rec.error = exc
        self.backend._closed(self.rec, self.transport)


async def _read_to_eof(reader, rec):
    while True:
        data = await reader.read(256 * 1024)
        if not data:
            rec.eof_after = rec.received
            return
        rec.feed(data)


async def _send(writer, rec, data: bytes):
    writer.write(data)
    rec.sent += len(data)
    await writer.drain()


async def _banner(reader, writer, rec, banner=b"220 hello\r\n"):
    """Speaks first, then reads until the client's EOF."""
    await _send(writer, rec, banner)
    await _read_to_eof(reader, rec)


async def _respond_close(reader, writer, rec, request_len=1, response=b"done\n"):
    """Reads exactly request_len bytes (so close() sends FIN, not RST), answers, closes."""
    while rec.received < request_len:
        data = await reader.read(request_len - rec.received)
        if not data:
            return
        rec.feed(data)
    await _send(writer, rec, response)


async def _reply_after_eof(reader, writer, rec, reply=b""):
    """Reads to EOF, then sends sha256(received) as 64 hex bytes followed by `reply`:
    the peer's write side is shut but its read side must still carry all of this."""
    await _read_to_eof(reader, rec)
    await _send(writer, rec, rec.sha.hexdigest().encode() + reply)


async def _echo_to_eof(reader, writer, rec):
    """Sends back what it reads until the peer's EOF."""
    while True:
        data = await reader.read(256 * 1024)
        if not data:
            rec.eof_after = rec.received
            return
        rec.feed(data)
        await _send(writer, rec, data)


async def _echo_extra(reader, writer, rec, extra=b""):
    """Echoes until EOF, then sends `extra` and closes."""
    await _echo_to_eof(reader, writer, rec)
    await _send(writer, rec, extra)


async def _sink(reader, writer, rec):
    """Reads and counts, never writes; closes on EOF."""
    await _read_to_eof(reader, rec)


async def _hold(reader, writer, rec):
    """Reads to EOF, then keeps its side open and silent until the peer or the test ends it."""
    await _read_to_eof(reader, rec)
    await asyncio.sleep(3600)


async def _close_write_first(reader, writer, rec, response=b"bye\n"):
    """Sends `response`, shuts its write side (FIN) at once, then still reads until the
    peer's EOF: the reverse half-close."""
    await _send(writer, rec, response)
    writer.write_eof()
    await _read_to_eof(reader, rec)


async def _probe_or_echo(reader, writer, rec, probe=b"PING\r\n", replies=None):
    """A service with a health probe: a connection that starts with `probe` gets
    replies["reply"] (read when the probe arrives, so a test switches the answer by
    changing the dict; None = never answer) and is closed; any other connection is
    echoed until EOF. rec.probe tells the two kinds apart."""
    replies = replies if replies is not None else {"reply": b"+OK\r\n"}
    rec.probe = False
    head = b""
    while len(head) < len(probe) and probe.startswith(head):
        data = await reader.read(64 * 1024)
        if not data:
            return
        rec.feed(data)
        head += data
    if head.startswith(probe):
        rec.probe = True
        reply = replies["reply"]
        if reply is None:
            await _read_to_eof(reader, rec)
            return
        await _send(writer, rec, reply)
        return
    await _send(writer, rec, head)
    await _echo_to_eof(reader, writer, rec)


HANDLERS = {
    "probe_or_echo": _probe_or_echo,
    "hold": _hold,
    "close_write_first": _close_write_first,
    "banner": _banner,
    "respond_close": _respond_close,
    "reply_after_eof": _reply_after_eof,
    "echo_extra": _echo_extra,
    "sink": _sink,
}


def _quiet_handler(loop, context):
    """Stopping a backend cancels its handlers; asyncio's stream glue then reports the
    cancellations and resets as errors. Those are expected; anything else is printed."""
    if isinstance(context.get("exception"), (asyncio.CancelledError, ConnectionError)):
        return
    loop.default_exception_handler(context)


class Backend:
    """kind: 'echo' or a key of HANDLERS; params go to the handler. port: listen on this
    one (e.g. to bring up the address a Blackhole held) instead of a fresh free port; a
    port that cannot be bound then fails start() rather than moving elsewhere. host: the
    loopback address to listen on (any 127.x.y.z; the port is then best given too, as
    free_port() checks 127.0.0.1 only)."""

    def __init__(self, kind="echo", *, port=None, host="127.0.0.1", **params):
        if kind != "echo" and kind not in HANDLERS:
            raise ValueError(f"unknown backend kind {kind}")
        self.kind = kind
        self.host = host
        self.params = params
        self._port_fixed = port is not None
        self.port = port if port is not None else free_port()
        self.records: list[ConnRecord] = []
        self.accepts = 0
        self.active = 0
        self.max_active = 0  # the most connections open at once
        self._transports = set()
        self._tasks = set()
        self._loop = None
        self._server = None
        self._thread = None
        self._ready = threading.Event()
        self._startup_error = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- test-thread API -------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._run, name=f"backend-{self.kind}-{self.port}",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError(f"backend {self.kind} on {self.port} did not start")
        if self._startup_error:
            raise self._startup_error
        return self

    def stop(self):
        if self._loop is None or not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._shutdown)
        self._thread.join(10)

    def received_total(self) -> int:
        return sum(r.received for r in list(self.records))

    def saw(self, marker: bytes) -> bool:
        return any(marker in bytes(r.head) for r in list(self.records))

    # -- loop thread -----------------------------------------------------------------
    def _run(self):
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_quiet_handler)
        for attempt in range(5):
            try:
                self._server = self._loop.run_until_complete(self._listen())
                break
            except OSError as e:  # another process took the port since free_port()
                if attempt == 4 or self._port_fixed:
                    self._startup_error = e
                    self._ready.set()
                    self._loop.close()
                    return
                self.port = free_port()
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    async def _listen(self):
        if self.kind == "echo":
            return await self._loop.create_server(lambda: _EchoProtocol(self), self.host,
                                                  self.port, backlog=BACKLOG, reuse_address=True)
        return await asyncio.start_server(self._handle, self.host, self.port, backlog=BACKLOG,
                                          reuse_address=True, limit=1 << 20)

    def _opened(self, peer, transport) -> ConnRecord:
        rec = ConnRecord(peer)
        self.records.append(rec)
        self.accepts += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self._transports.add(transport)
        return rec

    def _closed(self, rec, transport):
        if not rec.closed:
            rec.closed = True
            self.active -= 1
        self._transports.discard(transport)

    async def _handle(self, reader, writer):
        rec = self._opened(writer.get_extra_info("peername"), writer.transport)
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await HANDLERS[self.kind](reader, writer, rec, **self.params)
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, OSError) as e:
            rec.error = e
            writer.transport.abort()
        finally:
            self._closed(rec, writer.transport)
            self._tasks.discard(task)

    def _shutdown(self):
        self._server.close()
        for t in list(self._transports):
            t.abort()
        for task in list(self._tasks):
            task.cancel()
        self._loop.call_later(0.05, self._loop.stop)
