"""Backpressure keeps memory bounded: a client streaming far faster than a slow backend
reads, through the upper filter (buffered path) and through a plain route (splice path),
must not make the proxy buffer the difference. Measures the proxy's VmRSS during the
transfer and checks every byte at the backend. Helpers here are used by one test thread
plus their own sampler/backend threads, as documented on each."""
import hashlib
import os
import socket
import threading
import time
import unittest

from harness import ProxyTestCase, env, payload_chunks, wait_until
from harness.wait import Deadline

PLUGIN = os.path.join(env.PLUGIN_DIR, "filter.so")
UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
MB = 1 << 20

# The stream is always well above the allowance plus what the kernel's socket buffers hold
# (~16 MB measured), so a proxy that buffered what the backend has not yet read would
# exceed the allowance in every profile.
STREAM_BYTES = env.pick(300 * MB, 128 * MB)
# Sanitizer builds get 16 MB more: ASan maps 1 shadow byte per 8 bytes touched and keeps
# freed blocks in a quarantine, TSan maps several shadow bytes per byte touched plus sync
# metadata, so the first connection's buffers and the runtime's own allocations cost
# several times their plain size (measured growth stays near 1-2 MB, on a plain build 0.1).
RSS_ALLOWANCE = env.pick(64 * MB, 80 * MB)
# The backend reads at most this fast: several times slower than the client can write,
# so the proxy must hold the client back; the stream still passes in about 4-6 s.
SINK_RATE = env.pick(50 * MB, 32 * MB)
READ_SIZE = 256 * 1024
SAMPLE_S = 0.1
SEED = 0x5EED


def vm_rss(pid: int) -> int:
    """The process's resident set size in bytes (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class RssSampler:
    """Samples a process's VmRSS every SAMPLE_S on its own thread; `peak` and `samples`
    are written by that thread only and read by the test thread after stop()."""

    def __init__(self, pid: int, on_sample=None):
        self.pid = pid
        self.baseline = vm_rss(pid)
        self.peak = self.baseline
        self.samples = 1
        self.error = None
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def _sample(self):
        try:
            self.peak = max(self.peak, vm_rss(self.pid))
            self.samples += 1
        except (OSError, AssertionError) as e:
            self.error = e
            self._stop.set()
        if self._on_sample:
            self._on_sample()

    def stop(self):
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(5)
            if self.error is None:
                self._sample()  # one last look, after the transfer


class SlowSink:
    """A backend that accepts one connection and reads it at no more than `rate` bytes/s
    (READ_SIZE at a time, pausing when ahead), hashing what it gets, until EOF. Its
    counters are written by its own thread and read by the test thread (GIL-atomic)."""

    def __init__(self, rate: float):
        self.rate = rate
        self.received = 0
        self.sha = hashlib.sha256()
        self.eof = False
        self.error = None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"slow-sink-{self.port}",
                                        daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def done(self) -> bool:
        return self.eof or self.error is not None

    def _run(self):
        conn = None
        while conn is None and not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError as e:
                self.error = e
                return
        if conn is None:
            return
        with conn:
            conn.settimeout(0.2)
            buf = bytearray(READ_SIZE)
            view = memoryview(buf)
            start = time.monotonic()
            while not self._stop.is_set():
                try:
                    n = conn.recv_into(buf)
                except socket.timeout:
                    continue
                except OSError as e:
                    self.error = e
                    return
                if n == 0:
                    self.eof = True
                    return
                self.sha.update(view[:n])
                self.received += n
                ahead = self.received / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    self._stop.wait(min(ahead, 0.05))

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


@unittest.skipUnless(os.path.isfile("/proc/self/status"), "needs /proc")
class MemoryUnderBackpressureTest(ProxyTestCase):
    def stream(self, route_options, transform):
        """Sends STREAM_BYTES as fast as the proxy takes them to a SlowSink; returns
        (sink, sampler, expected sha256 hex, largest client-ahead-of-backend gap)."""
        sink = SlowSink(SINK_RATE)
        self.addCleanup(sink.close)
        route = self.route("mem", [sink.address], **route_options)
        proxy = self.start_proxy([route])
        gap = {"sent": 0, "max": 0}

        def track_gap():
            gap["max"] = max(gap["max"], gap["sent"] - sink.received)

        sampler = RssSampler(proxy.pid, on_sample=track_gap)
        self.addCleanup(sampler.stop)
        limit = env.t(STREAM_BYTES / SINK_RATE * 3 + 20)
        deadline = Deadline(limit)
        s = self.client(route.port)
        expected = hashlib.sha256()
        for chunk in payload_chunks(SEED, STREAM_BYTES):
            expected.update(transform(chunk))
            s.settimeout(deadline.remaining())
            try:
                s.sendall(chunk)
            except socket.timeout:
                self.fail(f"sent {gap['sent']} of {STREAM_BYTES} bytes within {limit:.0f}s; "
                          f"backend got {sink.received}\n{proxy.tail()}")
            gap["sent"] += len(chunk)
        s.shutdown(socket.SHUT_WR)
        wait_until(lambda: sink.done, deadline.remaining(), "the backend to read to EOF",
                   lambda: f"backend got {sink.received} of {STREAM_BYTES}\n{proxy.tail()}")
        sampler.stop()
        self.assertIsNone(sampler.error, "could not sample the proxy's RSS")
        self.assertIsNone(sink.error, f"backend error after {sink.received} bytes")
        return sink, sampler, expected.hexdigest(), gap["max"]

    def check(self, what, sink, sampler, expected_sha, gap):
        growth = sampler.peak - sampler.baseline
        print(f"\n  {what}: {STREAM_BYTES // MB} MB, RSS baseline {sampler.baseline / MB:.1f} MB, "
              f"peak {sampler.peak / MB:.1f} MB, growth {growth / MB:.1f} MB "
              f"(allowance {RSS_ALLOWANCE // MB} MB, {sampler.samples} samples), "
              f"client ahead of backend by up to {gap / MB:.1f} MB", flush=True)
        self.assertEqual(sink.received, STREAM_BYTES, "bytes at the backend")
        self.assertEqual(sink.sha.hexdigest(), expected_sha, "content at the backend")
        self.assertLess(growth, RSS_ALLOWANCE,
                        f"proxy RSS grew {growth / MB:.1f} MB while a slow backend read "
                        f"{STREAM_BYTES // MB} MB")

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_filtered_stream_into_slow_backend_keeps_memory_bounded(self):
        result = self.stream({"filter": "filter.so", "filter_args": "upper"},
                             lambda c: bytes(c).translate(UPPER))
        self.check("upper filter", *result)

    def test_spliced_stream_into_slow_backend_keeps_memory_bounded(self):
        result = self.stream({}, lambda c: c)
        self.check("splice", *result)


if __name__ == "__main__":
    unittest.main()
