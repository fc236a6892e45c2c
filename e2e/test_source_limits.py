"""Per-source and rate limits: max_connections_per_source caps one client IP and not
another, rate_limit and rate_limit_per_source admit about their rate (measured over a few
seconds, generous margins), and a flood of distinct source addresses keeps the proxy's
memory bounded (65536 sources remembered per route)."""
import socket
import struct
import time
import unittest

from harness import (ProxyTestCase, env, free_port, http, recv_until_closed, roundtrip,
                     wait_until)


def client_from(source_ip, port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source_ip, 0))
    s.connect(("127.0.0.1", port))
    return s


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class SourceLimitsTest(ProxyTestCase):
    def _start(self, backends, **options):
        self.stats_port = free_port()
        route = self.route("web", backends, **options)
        proxy = self.start_proxy([route], {"stats_listen": f"127.0.0.1:{self.stats_port}"})
        return route, proxy

    def _metrics(self):
        return http.get_metrics(self.stats_port, env.t(5))

    def _refused(self, reason):
        return http.metric(self._metrics(), "arus_refused_total", route="web", reason=reason)

    def _open(self, source_ip, port):
        s = client_from(source_ip, port, env.t(10))
        self.addCleanup(s.close)
        return s

    def _is_served(self, source_ip, port, tag):
        """Connect from source_ip: True when the echo comes back, False when closed."""
        s = client_from(source_ip, port, env.t(10))
        with s:
            try:
                s.sendall(tag)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                return False  # refused: closed (reset) before we were done writing
            data, _ = recv_until_closed(s, env.t(10))
        return data == tag

    def test_one_source_capped_another_not(self):
        echo = self.backend("echo")
        route, proxy = self._start([echo], max_connections_per_source=2)
        held = [self._open("127.0.0.2", route.port) for _ in range(2)]
        for i, s in enumerate(held):
            roundtrip(s, b"held-%d\n" % i, env.t(5))
        mark = proxy.mark()
        s = self._open("127.0.0.2", route.port)
        s.sendall(b"OVER")
        _, how = recv_until_closed(s, env.t(5))
        self.assertIn(how, ("eof", "reset"))
        acc = proxy.wait_access(route="web", close="limit", start=mark)
        self.assertTrue(acc.fields.get("client", "").startswith("127.0.0.2:"), acc.raw)
        self.assertFalse(echo.saw(b"OVER"))
        # 127.0.0.2 is at its cap; 127.0.0.3 has a cap of its own, still free.
        others = [self._open("127.0.0.3", route.port) for _ in range(2)]
        for i, o in enumerate(others):
            roundtrip(o, b"other-%d\n" % i, env.t(5))
        self.assertEqual(self._refused("source_limit"), 1)
        # A closed connection gives its source's slot back.
        held[0].close()
        wait_until(lambda: echo.active == 3, env.t(5), "a held connection closed")
        again = self._open("127.0.0.2", route.port)
        roundtrip(again, b"again\n", env.t(5))

    def _measure(self, rate, seconds, sources, route):
        """Connects in turn from `sources` for `seconds`; returns (served, refused)."""
        served = refused = 0
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            if self._is_served(sources[i % len(sources)], route.port, b"r%d" % i):
                served += 1
            else:
                refused += 1
            i += 1
        return served, refused

    def test_the_source_is_the_proxy_header_client_on_an_accept_proxy_route(self):
        # Every socket comes from 127.0.0.1; the PROXY headers name two other clients.
        # The cap counts the header's client, and gives its slot back to that client.
        echo = self.backend("echo")
        route, proxy = self._start([echo], accept_proxy="on", max_connections_per_source=1)

        def via_header(client_ip, client_port):
            s = client_from("127.0.0.1", route.port, env.t(10))
            self.addCleanup(s.close)
            s.sendall(b"PROXY TCP4 %s 192.0.2.1 %d 80\r\n" % (client_ip.encode(), client_port))
            return s

        held = via_header("198.51.100.7", 40001)
        roundtrip(held, b"held\n", env.t(5))
        over = via_header("198.51.100.7", 40002)
        over.sendall(b"OVER")
        _, how = recv_until_closed(over, env.t(10))
        self.assertIn(how, ("eof", "reset"))
        wait_until(lambda: self._refused("source_limit") == 1, env.t(5), "one source_limit")
        other = via_header("203.0.113.9", 40003)
        roundtrip(other, b"other\n", env.t(5))
        self.assertFalse(echo.saw(b"OVER"))
        held.close()
        other.close()
        wait_until(lambda: echo.active == 0, env.t(5), "both served connections closed")
        again = via_header("198.51.100.7", 40004)
        roundtrip(again, b"again\n", env.t(5))

    def _check_rate(self, what, rate, seconds, served, elapsed):
        # Burst (= rate) plus the refill over the run; generous margins both ways.
        expected = rate + rate * elapsed
        print(f"\n  {what}: {served} admitted in {elapsed:.1f}s at rate {rate}/s "
              f"(about {expected:.0f} expected)")
        self.assertLessEqual(served, expected * 1.5 + 5)
        self.assertGreaterEqual(served, min(expected * 0.3, rate))

    def test_route_rate_limit(self):
        rate, seconds = 20, 3
        echo = self.backend("echo")
        route, proxy = self._start([echo], rate_limit=rate)
        t0 = time.monotonic()
        served, refused = self._measure(rate, seconds, ["127.0.0.2", "127.0.0.3"], route)
        self._check_rate("rate_limit", rate, seconds, served, time.monotonic() - t0)
        self.assertGreater(refused, 0)
        self.assertEqual(self._refused("rate_limit"), refused)

    def test_rate_limit_per_source(self):
        rate, seconds = 10, 3
        echo = self.backend("echo")
        route, proxy = self._start([echo], rate_limit_per_source=rate)
        t0 = time.monotonic()
        served, refused = self._measure(rate, seconds, ["127.0.0.2"], route)
        self._check_rate("rate_limit_per_source", rate, seconds, served, time.monotonic() - t0)
        self.assertGreater(refused, 0)
        # Another source has its own full bucket.
        for i in range(rate):
            self.assertTrue(self._is_served("127.0.0.3", route.port, b"o%d" % i))
        self.assertEqual(self._refused("source_rate_limit"), refused)

    def test_many_sources_keep_memory_bounded(self):
        """Distinct source addresses, more than the 65536 a route remembers: RSS stays
        bounded. Clients are refused right after the source check (a full backend without
        a queue), so the run costs no backend connections."""
        total = env.pick(100_000, 70_000)
        # The table holds at most 65536 sources (about 8 MiB here); sanitizer builds keep
        # freed memory in quarantine, so only a loose bound holds there.
        bound_mib = env.pick(32, 512)
        echo = self.backend("echo")
        route, proxy = self._start([f"{echo.address} max_connections=1"],
                                   max_connections_per_source=1000, rate_limit_per_source=1000,
                                   queue_timeout_ms=0)
        holder = self._open("127.0.0.1", route.port)
        roundtrip(holder, b"hold\n", env.t(5))  # the backend's only slot

        def source(i):
            return f"127.{1 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"

        def accepted():
            return http.metric(self._metrics(), "arus_client_connections_total", route="web")

        def run(first, count, deadline):
            for i in range(first, first + count):
                if time.monotonic() > deadline:
                    return i - first
                try:
                    s = client_from(source(i), route.port, env.t(10))
                    # Closed with a reset: 100,000 sockets in TIME_WAIT would hold ephemeral
                    # ports for a minute and make later tests' binds fail.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.close()
                except OSError as e:
                    raise AssertionError(f"connect from {source(i)} failed: {e}")
                if i % 1000 == 999:  # keep the backlog short: wait for the proxy
                    base = i + 2 - 500  # +1 for the holder
                    wait_until(lambda: accepted() >= base, env.t(30), "proxy keeping up")
            return count

        warm = 2000
        run(0, warm, time.monotonic() + env.t(60))
        wait_until(lambda: accepted() >= warm + 1, env.t(30), "warm-up accepted")
        before = rss_kib(proxy.pid)
        t0 = time.monotonic()
        done = run(warm, total - warm, t0 + env.t(240))
        wait_until(lambda: accepted() >= warm + done + 1, env.t(60), "all accepted")
        elapsed = time.monotonic() - t0
        after = rss_kib(proxy.pid)
        growth_mib = (after - before) / 1024
        print(f"\n  {warm + done} distinct sources in {elapsed:.1f}s: RSS {before // 1024} MiB "
              f"-> {after // 1024} MiB (+{growth_mib:.1f} MiB, bound {bound_mib} MiB)")
        self.assertGreater(warm + done, 65536, "too few sources to fill the table in time")
        self.assertLess(growth_mib, bound_mib)
        roundtrip(holder, b"still\n", env.t(5))


if __name__ == "__main__":
    unittest.main()
