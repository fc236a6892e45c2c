"""The stats endpoint under load and at its HTTP edges: scrapes taken while 200 echo
transfers are open and moving are well-formed, bounded and monotonic, and the totals are
exact afterwards; oversized requests, 405 with Allow, keep-alive and a stalled client
(408) over raw sockets. The 404 and malformed-request cases live in test_stats.py.
Helpers are stateless; the asyncio parts run on the test thread's own loop."""
import asyncio
import json
import socket
import statistics
import time
import unittest

from harness import ProxyTestCase, env, free_port, payload_chunks, wait_until
from harness import http
from harness.http import read_response
from harness.client import connect, recv_until_closed
from harness.wait import Deadline

CONNS = 200
# Bytes per connection before and after the scrape gate (varied per connection so a
# miscounted connection changes the totals).
FIRST = env.pick(16 << 10, 4 << 10)
SECOND = env.pick(48 << 10, 12 << 10)
SECOND_PIECES = 4
PIECE_PAUSE_S = 0.02
MAX_MOVING_SCRAPES = 40
DIRECTIONS = ("client_to_backend", "backend_to_client")


def first_len(i):
    return FIRST + 13 * i


def second_len(i):
    return SECOND + 7 * i


def payload(seed, length) -> bytes:
    return b"".join(payload_chunks(seed, length))


# -- raw HTTP ---------------------------------------------------------------------------
def closed_within(s: socket.socket, deadline: Deadline) -> str:
    """Reads until the peer closes: 'eof' or 'reset'; AssertionError past the deadline."""
    return recv_until_closed(s, deadline.remaining())[1]


def scrape(port, path):
    """(body, seconds) of a GET with Connection: close; checks status 200 and that the
    body is exactly Content-Length bytes followed by the close."""
    t0 = time.monotonic()
    d = Deadline(env.t(10))
    with connect(port, d.remaining()) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        buf = bytearray()
        status, _, body = read_response(s, buf, d)
        closed_within(s, d)
    elapsed = time.monotonic() - t0
    if status != 200 or buf:
        raise AssertionError(f"GET {path}: status {status}, {len(buf)} bytes after the body")
    return body, elapsed


# -- invariants -------------------------------------------------------------------------
def counters_of_stats(stats: dict, route: str) -> dict:
    """The monotonic figures of a /stats document, flattened."""
    out = {"generation": stats["generation"], "reloads.ok": stats["reloads"]["ok"],
           "reloads.error": stats["reloads"]["error"]}
    r = [x for x in stats["routes"] if x["name"] == route][0]
    out["connections_total"] = r["connections_total"]
    for d in DIRECTIONS:
        out[f"bytes.{d}"] = r["bytes"][d]
    for b in r["backends"]:
        out[f"{b['address']}.connections_total"] = b["connections_total"]
        out[f"{b['address']}.connect_errors_total"] = b["connect_errors_total"]
    return out


def counters_of_metrics(samples: dict) -> dict:
    return {k: v for k, v in samples.items()
            if k[0].endswith("_total") or k[0] == "arus_config_generation"}


class StatsUnderLoadTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.route_ = self.route("load", [self.echo])
        self.stats_port = free_port()
        self.proxy_ = self.start_proxy([self.route_],
                                       {"stats_listen": f"127.0.0.1:{self.stats_port}"})
        self.latencies = []
        self.prev_metrics = None
        self.prev_stats = None

    # One scrape of each kind, checked against the invariants and the previous scrape.
    def scrape_metrics(self) -> dict:
        body, elapsed = scrape(self.stats_port, "/metrics")
        self.latencies.append(elapsed)
        samples = http.parse_metrics(body.decode())  # raises on a malformed sample line
        active = http.metric(samples, "arus_connections_active", route="load")
        self.assertIsNotNone(active, "no arus_connections_active{route=load}")
        self.assertLessEqual(active, CONNS, "more active connections than clients")
        now = counters_of_metrics(samples)
        for key, before in (self.prev_metrics or {}).items():
            self.assertIn(key, now, f"series {key} vanished")
            self.assertGreaterEqual(now[key], before, f"counter {key} decreased")
        self.prev_metrics = now
        return samples

    def scrape_stats(self) -> dict:
        body, elapsed = scrape(self.stats_port, "/stats")
        self.latencies.append(elapsed)
        stats = json.loads(body)
        route = [r for r in stats["routes"] if r["name"] == "load"][0]
        self.assertLessEqual(route["connections_active"], CONNS)
        now = counters_of_stats(stats, "load")
        for key, before in (self.prev_stats or {}).items():
            self.assertGreaterEqual(now[key], before, f"/stats {key} decreased")
        self.prev_stats = now
        return stats

    def test_scrapes_during_200_transfers_are_consistent(self):
        first_total = sum(first_len(i) for i in range(CONNS))
        total = first_total + sum(second_len(i) for i in range(CONNS))
        ready = 0

        async def one(i, all_ready, release):
            nonlocal ready
            reader, writer = await asyncio.open_connection("127.0.0.1", self.route_.port)
            try:
                data = payload(9000 + i, first_len(i) + second_len(i))
                writer.write(data[:first_len(i)])
                got = await reader.readexactly(first_len(i))
                ready += 1
                if ready == CONNS:
                    all_ready.set()
                await release.wait()
                rest = memoryview(data)[first_len(i):]
                step = -(-len(rest) // SECOND_PIECES)
                for off in range(0, len(rest), step):
                    writer.write(rest[off:off + step])
                    await writer.drain()
                    await asyncio.sleep(PIECE_PAUSE_S)
                got += await reader.readexactly(len(rest))
                writer.write_eof()
                tail = await reader.read()
                if got != data or tail:
                    raise AssertionError(f"conn {i}: echo differs ({len(got)} bytes, "
                                         f"{len(tail)} after EOF)")
            finally:
                writer.close()
                try:
                    await writer.wait_closed()
                except OSError:
                    pass

        async def until(event, tasks, timeout, what):
            waiter = asyncio.ensure_future(event.wait())
            done, _ = await asyncio.wait([waiter, *tasks], timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for t in done:
                if t is not waiter and t.exception():
                    raise t.exception()
            if not event.is_set():
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} "
                                     f"({ready} of {CONNS} ready)")

        async def main():
            all_ready, release = asyncio.Event(), asyncio.Event()
            tasks = [asyncio.create_task(one(i, all_ready, release)) for i in range(CONNS)]
            try:
                await until(all_ready, tasks, env.t(30), "every connection's first echo")
                # All 200 open and idle: the figures are exact, however often we look.
                m = await asyncio.to_thread(wait_until, lambda: self._quiet_at(first_total),
                                            env.t(5), "200 active and the first bytes counted")
                for _ in range(2):
                    await asyncio.to_thread(self.scrape_metrics)
                    await asyncio.to_thread(self.scrape_stats)
                release.set()
                moving = 0
                d = Deadline(env.t(30))
                while not all(t.done() for t in tasks) and moving < MAX_MOVING_SCRAPES \
                        and not d.expired():
                    await asyncio.to_thread(self.scrape_metrics)
                    await asyncio.to_thread(self.scrape_stats)
                    moving += 1
                done, pending = await asyncio.wait(tasks, timeout=env.t(30))
                if pending:
                    raise AssertionError(f"{len(pending)} transfers still running")
                for t in done:
                    if t.exception():
                        raise t.exception()
                return m, moving
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        _, moving = asyncio.run(main())

        def settled():
            m = self.scrape_metrics()
            return http.metric(m, "arus_connections_active", route="load") == 0 and m
        m = wait_until(settled, env.t(10), "0 active connections", self.proxy_.tail)
        for d in DIRECTIONS:
            self.assertEqual(http.metric(m, "arus_bytes_total", route="load", direction=d),
                             total, d)
        self.assertEqual(http.metric(m, "arus_connections_total", route="load",
                                     backend=self.echo.address), CONNS)
        self.assertEqual(http.metric(m, "arus_connect_errors_total", route="load",
                                     backend=self.echo.address), 0)
        stats = self.scrape_stats()
        self.assert_stats_match_metrics(stats, m)
        lat = sorted(self.latencies)
        print(f"\n  {len(lat)} scrapes ({moving} rounds while transfers moved): latency "
              f"min {lat[0] * 1e3:.1f} ms, median {statistics.median(lat) * 1e3:.1f} ms, "
              f"max {lat[-1] * 1e3:.1f} ms", flush=True)

    def _quiet_at(self, first_total):
        m = self.scrape_metrics()
        ok = http.metric(m, "arus_connections_active", route="load") == CONNS and all(
            http.metric(m, "arus_bytes_total", route="load", direction=d) == first_total
            for d in DIRECTIONS)
        return ok and m

    def assert_stats_match_metrics(self, stats, m):
        route = [r for r in stats["routes"] if r["name"] == "load"][0]
        self.assertEqual(route["connections_active"],
                         http.metric(m, "arus_connections_active", route="load"))
        self.assertEqual(route["connections_total"], sum(
            v for (name, labels), v in m.items()
            if name == "arus_connections_total" and ("route", "load") in labels))
        for d in DIRECTIONS:
            self.assertEqual(route["bytes"][d],
                             http.metric(m, "arus_bytes_total", route="load", direction=d), d)
        for b in route["backends"]:
            for key, name in (("connections_total", "arus_connections_total"),
                              ("connect_errors_total", "arus_connect_errors_total"),
                              ("up", "arus_backend_up")):
                self.assertEqual(int(b[key]), http.metric(m, name, route="load",
                                                          backend=b["address"]), key)
        self.assertEqual(stats["generation"], http.metric(m, "arus_config_generation"))
        for result in ("ok", "error"):
            self.assertEqual(stats["reloads"][result],
                             http.metric(m, "arus_reloads_total", result=result), result)


class StatsHttpEdgesTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.stats_port = free_port()
        self.start_proxy([self.route("r", [self.backend("echo")])],
                         {"stats_listen": f"127.0.0.1:{self.stats_port}"})

    def open(self):
        s = connect(self.stats_port, env.t(5))
        self.addCleanup(s.close)
        return s

    def test_post_metrics_is_405_with_allow(self):
        s = self.open()
        s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                  b"Connection: close\r\n\r\n")
        status, headers, _ = read_response(s, bytearray(), Deadline(env.t(5)))
        self.assertEqual(status, 405)
        self.assertIn("allow", headers, "a 405 must name the allowed methods")
        self.assertIn("GET", [m.strip() for m in headers["allow"].split(",")])

    def test_oversized_request_is_refused_and_closed(self):
        s = self.open()
        head = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n"
        try:
            s.sendall(head)
        except OSError:
            pass  # the server may refuse and close before it has read everything
        buf = bytearray()
        d = Deadline(env.t(5))
        status, _, _ = read_response(s, buf, d)
        self.assertIn(status, (400, 431))
        closed_within(s, d)

    def test_keep_alive_answers_every_request(self):
        s = self.open()
        buf = bytearray()
        d = Deadline(env.t(10))
        for path in ("/healthz", "/metrics"):
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status, headers, body = read_response(s, buf, d)
            self.assertEqual(status, 200, path)
            self.assertNotEqual(headers.get("connection", "").lower(), "close", path)
        self.assertIn(b"arus_connections_total", body)
        # Two more in one write; the second asks to close.
        s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, body = read_response(s, buf, d)
        self.assertEqual(status, 200)
        self.assertIn("routes", json.loads(body))
        status, _, _ = read_response(s, buf, d)
        self.assertEqual(status, 200)
        self.assertEqual(bytes(buf), b"")
        closed_within(s, d)

    def test_stalled_request_gets_408_and_others_are_served(self):
        partial = self.open()
        partial.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        silent = self.open()
        # The stalled clients must not hold up anyone else.
        status, _, _ = http.request(self.stats_port, "/healthz", env.t(5))
        self.assertEqual(status, 200)
        d = Deadline(env.t(15))
        buf = bytearray()
        status, _, _ = read_response(partial, buf, d)
        self.assertEqual(status, 408)
        closed_within(partial, d)
        # Connected and never sent a byte: closed too (with or without a 408).
        closed_within(silent, d)


if __name__ == "__main__":
    unittest.main()
