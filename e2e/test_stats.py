"""The stats endpoint: /healthz, /metrics (Prometheus text) and /stats (JSON) report every
route and backend from the start, count connections, bytes and connect errors, and answer
404/405/400 to anything else; a reload that respells its address keeps its socket."""
import signal
import socket
import unittest

from harness import (Backend, Blackhole, ProxyTestCase, env, free_port, recv_until_closed,
                     roundtrip, wait_until)
from harness import http
from harness.client import connect
from test_reload_triggers import ReloadCase


class StatsTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.dead = f"127.0.0.1:{free_port()}"
        self.route_web = self.route("web", [self.echo, self.dead], retries=2)
        self.stats_port = free_port()
        self.proxy_ = self.start_proxy([self.route_web],
                                       {"stats_listen": f"127.0.0.1:{self.stats_port}"})

    def metrics(self):
        return http.get_metrics(self.stats_port, env.t(5))

    def test_healthz(self):
        status, _, body = http.request(self.stats_port, "/healthz", env.t(5))
        self.assertEqual(status, 200)
        self.assertIn(b"ok", body)

    def test_series_exist_at_zero(self):
        m = self.metrics()
        for backend in (self.echo.address, self.dead):
            self.assertEqual(http.metric(m, "arus_connections_total", route="web",
                                         backend=backend), 0, backend)
            self.assertEqual(http.metric(m, "arus_connect_errors_total", route="web",
                                         backend=backend), 0, backend)
            self.assertEqual(http.metric(m, "arus_backend_up", route="web", backend=backend), 1)
        self.assertEqual(http.metric(m, "arus_connections_active", route="web"), 0)
        for d in ("client_to_backend", "backend_to_client"):
            self.assertEqual(http.metric(m, "arus_bytes_total", route="web", direction=d), 0)
        self.assertIsNotNone(http.metric(m, "arus_config_generation"))
        self.assertIsNotNone(http.metric(m, "arus_reloads_total", result="ok"))
        self.assertIsNotNone(http.metric(m, "arus_reloads_total", result="error"))

    def test_counters_follow_traffic(self):
        message = b"count me please\n" * 100
        s = self.client(self.route_web.port)
        roundtrip(s, message, env.t(5))
        wait_until(lambda: http.metric(self.metrics(), "arus_connections_active",
                                       route="web") == 1, env.t(5), "1 active connection")
        s.close()
        self.proxy_.wait_access(route="web")

        def settled():
            m = self.metrics()
            return http.metric(m, "arus_connections_active", route="web") == 0 and m
        m = wait_until(settled, env.t(5), "0 active connections")
        self.assertEqual(http.metric(m, "arus_bytes_total", route="web",
                                     direction="client_to_backend"), len(message))
        self.assertEqual(http.metric(m, "arus_bytes_total", route="web",
                                     direction="backend_to_client"), len(message))
        total = sum(http.metric(m, "arus_connections_total", route="web", backend=b) or 0
                    for b in (self.echo.address, self.dead))
        self.assertGreaterEqual(total, 1)

    def test_dead_backend_counts_errors_and_goes_down(self):
        for i in range(6):
            s = self.client(self.route_web.port)
            roundtrip(s, b"x%d" % i, env.t(5))
            s.close()

        def down():
            m = self.metrics()
            return http.metric(m, "arus_backend_up", route="web", backend=self.dead) == 0 and m
        m = wait_until(down, env.t(5), "the dead backend reported down")
        self.assertGreaterEqual(http.metric(m, "arus_connect_errors_total", route="web",
                                            backend=self.dead), 1)
        self.assertEqual(http.metric(m, "arus_backend_up", route="web",
                                     backend=self.echo.address), 1)
        stats = http.get_stats(self.stats_port, env.t(5))
        route = [r for r in stats["routes"] if r["name"] == "web"][0]
        backends = {b["address"]: b for b in route["backends"]}
        self.assertIn(backends[self.dead]["up"], (False, 0))
        self.assertGreaterEqual(backends[self.dead]["connect_errors_total"], 1)

    def test_stats_json_shape(self):
        stats = http.get_stats(self.stats_port, env.t(5))
        for key in ("generation", "reloads", "routes"):
            self.assertIn(key, stats)
        self.assertIn("ok", stats["reloads"])
        self.assertIn("error", stats["reloads"])
        route = [r for r in stats["routes"] if r["name"] == "web"][0]
        self.assertEqual(route["listen"], self.route_web.listen)
        for key in ("connections_active", "connections_total", "bytes", "backends"):
            self.assertIn(key, route)
        self.assertEqual(set(route["bytes"]), {"client_to_backend", "backend_to_client"})
        self.assertEqual({b["address"] for b in route["backends"]}, {self.echo.address, self.dead})

    def test_other_requests(self):
        status, _, _ = http.request(self.stats_port, "/nope", env.t(5))
        self.assertEqual(status, 404)
        status, _, _ = http.request(self.stats_port, "/metrics", env.t(5), method="POST")
        self.assertIn(status, (404, 405))
        s = connect(self.stats_port, env.t(5))
        with s:
            s.sendall(b"this is not http\r\n\r\n")
            data, how = recv_until_closed(s, env.t(5))
        self.assertRegex(data[:12].decode("latin-1"), r"^HTTP/1\.[01] 400")



class BackendUpAcrossReloadTest(ProxyTestCase):
    """A reload keeps one health state per (route, backend): a backend that is down when
    the configuration reloads is still down after it, a failure of the old generation
    counts for the new one, and arus_backend_up reports up again once it recovers."""

    def start_with_stats(self, route):
        self.stats_port = free_port()
        return self.start_proxy([route], {"stats_listen": f"127.0.0.1:{self.stats_port}"})

    def metric(self, name, **labels):
        return http.metric(http.get_metrics(self.stats_port, env.t(5)), name, **labels)

    def reload(self, proxy):
        generation = self.metric("arus_config_generation")
        proxy.signal(signal.SIGHUP)
        wait_until(lambda: self.metric("arus_config_generation") > generation, env.t(10),
                   "the reload")

    def wait_served(self, route):
        def served():
            with connect(route.port, env.t(5)) as s:
                try:
                    roundtrip(s, b"ping", env.t(5))
                    return True
                except AssertionError:  # closed: still in its back-off
                    return False
        wait_until(served, env.t(15), "a connection through the recovered backend")

    def test_backend_down_over_a_reload_is_reported_up_when_it_recovers(self):
        backend = Backend("echo")  # its port is free: down until started
        route = self.route("web", [backend], retries=0)
        proxy = self.start_with_stats(route)

        def backend_up():
            return self.metric("arus_backend_up", route="web", backend=backend.address)

        _, how = recv_until_closed(self.client(route.port), env.t(10))  # the connect fails
        wait_until(lambda: backend_up() == 0, env.t(5), "the backend reported down")

        self.reload(proxy)
        self.assertEqual(backend_up(), 0, "a reload is not a recovery")

        backend.start()
        self.addCleanup(backend.stop)
        self.wait_served(route)
        wait_until(lambda: backend_up() == 1, env.t(5), "the backend reported up again")
        proxy.wait_record("backend_up", env.t(5))

    def test_issue12_old_generation_failure_after_a_reload_then_recovery_reports_up(self):
        # Issue 12, item 3. The old generation's connect hangs in a blackhole across the
        # reload, then times out and marks the backend down; the new generation then
        # connects to the same address, now alive. With a copy of the health per
        # generation the new one never saw the failure, so its successes never set
        # arus_backend_up back to 1.
        hole = Blackhole()
        self.addCleanup(hole.close)
        self.assertTrue(hole.fill(), "the blackhole's accept queue did not fill")
        address = f"127.0.0.1:{hole.port}"
        route = self.route("web", [address], retries=0,
                           connect_timeout_ms=int(env.t(3) * 1000))
        proxy = self.start_with_stats(route)

        def backend_up():
            return self.metric("arus_backend_up", route="web", backend=address)

        def backend_up_in_stats():
            stats = http.get_stats(self.stats_port, env.t(5))
            return stats["routes"][0]["backends"][0]["up"]

        old_generation_client = self.client(route.port)
        wait_until(lambda: self.metric("arus_connections_active", route="web") == 1, env.t(5),
                   "the client accepted on the first generation")
        self.reload(proxy)  # the backend is kept: same route, same HOST:PORT
        self.assertEqual(backend_up(), 1, "the old generation's connect is still pending")

        _, how = recv_until_closed(old_generation_client, env.t(15))
        self.assertClosedBy(how)
        proxy.wait_access(env.t(5), close="connect_failed", backend=address)
        proxy.wait_record("backend_down", env.t(5), backend=address)
        wait_until(lambda: backend_up() == 0, env.t(5), "the backend reported down")

        hole.close()
        backend = Backend("echo", port=hole.port).start()  # the same address, alive now
        self.addCleanup(backend.stop)
        for _ in range(5):
            self.wait_served(route)
        proxy.wait_record("backend_up", env.t(5), backend=address)
        wait_until(lambda: backend_up() == 1, env.t(5), "arus_backend_up back to 1")
        self.assertTrue(backend_up_in_stats(), "/stats says the backend is up")


class StatsListenReloadTest(ReloadCase):
    """stats_listen is compared after resolution: the same address spelt another way is
    the same listener, not a second bind of a port the proxy already holds."""

    def test_respelt_stats_listen_keeps_its_socket(self):
        first = socket.getaddrinfo("localhost", self.stats_port, type=socket.SOCK_STREAM)[0]
        if first[4][0] != "127.0.0.1":
            self.skipTest(f"localhost resolves to {first[4][0]} first, not 127.0.0.1")
        route = self.route("web", [self.backend("echo")])
        self.launch([route])
        generation = self.generation()
        mark = self.p.mark()
        self.write_by_rename(self.render([route], stats_listen=f"localhost:{self.stats_port}"))
        line = self.p.wait_line(lambda l: " reloaded " in l or " reload_failed " in l,
                                env.t(10), "the reload's outcome", start=mark)
        self.assertIn(" reloaded ", line, self.p.tail())
        self.assertEqual(self.reloads("error"), 0, self.p.tail())
        self.assertGreater(self.generation(), generation)
        status, _, body = http.request(self.stats_port, "/healthz", env.t(5))
        self.assertEqual((status, body.strip()), (200, b"ok"))


if __name__ == "__main__":
    unittest.main()
