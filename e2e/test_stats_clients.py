"""The stats endpoint's client slots (issue 12, item 2): idle keep-alive clients cannot
starve /healthz (the oldest idle one is closed to make room), one source address is held
to its own cap by closing its own oldest idle client, and clients pipelining /metrics
share one rendered body instead of each holding a copy. Clients come from several
127.0.0.x source addresses (all loopback on Linux) so the global and the per-source caps
can be told apart. Helpers are stateless; everything runs on the test thread."""
import select
import socket
import unittest

from harness import ProxyTestCase, env, free_port
from harness.client import recv_until_closed
from harness.http import read_response
from harness.wait import Deadline, wait_until

# StatsServerOptions defaults, documented in docs/operations.md ("The stats listener").
MAX_CLIENTS = 256
MAX_CLIENTS_PER_SOURCE = 32

GET_HEALTH = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
GET_METRICS = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"


def source(i: int) -> str:
    """The i-th test source address; 127.0.0.1 stays for the harness's own requests."""
    return f"127.0.0.{10 + i}"


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/PID/status")


def has_input(s: socket.socket) -> bool:
    """True once the peer sent something (or closed), without consuming it."""
    readable, _, _ = select.select([s], [], [], 0)
    return bool(readable)


class StatsClientSlotsTest(ProxyTestCase):
    def start(self, routes=None):
        self.stats_port = free_port()
        routes = routes or [self.route("r", [self.backend("echo")])]
        # 256 stats clients plus the harness: far below the 20,000 descriptors of the
        # test machine, so the caps under test are the only limit met.
        self.proxy_ = self.start_proxy(routes, {"stats_listen": f"127.0.0.1:{self.stats_port}"})

    def open_from(self, address: str, receive_buffer: int = 0) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        if receive_buffer:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        s.bind((address, 0))
        s.settimeout(env.t(10))
        s.connect(("127.0.0.1", self.stats_port))
        return s

    def ask(self, s: socket.socket, request: bytes = GET_HEALTH, buf=None) -> int:
        """Sends one request on `s` and returns the status of its answer."""
        s.sendall(request)
        status, _, _ = read_response(s, bytearray() if buf is None else buf,
                                     Deadline(env.t(10)))
        return status

    def idle_client(self, address: str) -> socket.socket:
        """A keep-alive client that asked once, got its 200 and now waits."""
        s = self.open_from(address)
        self.assertEqual(self.ask(s), 200, f"client from {address}")
        return s

    def assert_closed(self, s: socket.socket, what: str):
        data, _ = recv_until_closed(s, env.t(10))
        self.assertEqual(data, b"", f"{what}: closed without a response")

    def test_idle_keepalive_clients_do_not_starve_healthz(self):
        self.start()
        # Sixteen sources of sixteen clients: the table is full, no source at its own cap.
        sources = MAX_CLIENTS // 16
        idle = [self.idle_client(source(i % sources)) for i in range(MAX_CLIENTS)]
        # Probes that stay connected, so each one needs a slot of its own.
        for n in range(3):
            probe = self.open_from("127.0.0.2")
            self.assertEqual(self.ask(probe), 200, f"probe {n} with {MAX_CLIENTS} idle clients")
        # Each probe made room by closing the client idle the longest, in that order.
        for n in range(3):
            self.assert_closed(idle[n], f"idle client {n}")
        for n in (3, MAX_CLIENTS // 2, MAX_CLIENTS - 1):
            self.assertEqual(self.ask(idle[n]), 200, f"idle client {n} kept its connection")

    def test_per_source_cap_closes_that_sources_oldest_idle_client(self):
        self.start()
        crowd = [self.idle_client(source(0)) for _ in range(MAX_CLIENTS_PER_SOURCE)]
        other = self.idle_client(source(1))
        newcomer = self.idle_client(source(0))
        self.assert_closed(crowd[0], "the crowded source's oldest idle client")
        # Nobody else lost a connection: not that source's newer ones, not another source.
        for n, s in enumerate(crowd[1:], start=1):
            self.assertEqual(self.ask(s), 200, f"client {n} of the crowded source")
        self.assertEqual(self.ask(other), 200, "the other source's client")
        self.assertEqual(self.ask(newcomer), 200, "the newcomer")

    def test_memory_of_pipelining_metrics_clients_does_not_grow_per_client(self):
        # One route with many backends makes /metrics about 1 MB; backends are never
        # contacted, so their addresses need no listener.
        backends = [f"127.0.0.1:{20000 + i}" for i in range(3000)]
        self.start([self.route("big", backends)])
        clients, sources = 64, 4
        body_size = 0
        for _ in range(3):  # warm the allocator with a few full renders
            probe = self.open_from("127.0.0.2")
            probe.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            _, _, body = read_response(probe, bytearray(), Deadline(env.t(20)))
            body_size = len(body)
            probe.close()
        self.assertGreater(body_size, 500_000, "/metrics is not large enough to measure")
        before = rss_bytes(self.proxy_.pid)
        # Each client pipelines four scrapes and reads nothing through a small receive
        # window, so its first answer stays queued in the proxy.
        pipeliners = []
        for i in range(clients):
            s = self.open_from(source(i % sources), receive_buffer=4096)
            s.sendall(GET_METRICS * 4)
            pipeliners.append(s)
        wait_until(lambda: all(has_input(s) for s in pipeliners), env.t(30),
                   "an answer started to every pipelining client", self.proxy_.tail)
        growth = rss_bytes(self.proxy_.pid) - before
        print(f"\n  /metrics {body_size / 1e6:.2f} MB, {clients} pipelining clients: RSS "
              f"{before / 1e6:.1f} MB -> +{growth / 1e6:.1f} MB "
              f"({growth / body_size:.1f} bodies)", flush=True)
        # One copy per client would be `clients` bodies; shared ones are a handful (one
        # per second of arrivals while earlier ones are still being sent).
        self.assertLess(growth, clients // 4 * body_size,
                        f"RSS grew {growth} bytes for {clients} clients of a "
                        f"{body_size}-byte body")


if __name__ == "__main__":
    unittest.main()
