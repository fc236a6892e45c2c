"""Connection caps: a connection over the route's or the process's max_connections is
accepted and closed at once, and its bytes never reach a backend."""
import signal
import unittest

from harness import ProxyTestCase, env, expect_closed, roundtrip, wait_until

MARKER = b"OVER-THE-LIMIT-BYTES"


class MaxConnectionsTest(ProxyTestCase):
    def _hold(self, route, n, start=0):
        socks = []
        for i in range(n):
            s = self.client(route.port)
            roundtrip(s, b"held-%d\n" % (start + i), env.t(5))
            socks.append(s)
        return socks

    def _assert_refused(self, proxy, route, backend, accepts_before):
        mark = proxy.mark()
        how = expect_closed(route.port, env.t(5), send=MARKER)
        self.assertIn(how, ("eof", "reset"), "over-limit connection was not closed")
        acc = proxy.wait_access(route=route.name, close="limit", start=mark)
        self.assertEqual(acc.fields.get("client_to_backend"), "0", acc.raw)
        self.assertEqual(backend.accepts, accepts_before, "over-limit connection reached a backend")
        self.assertFalse(backend.saw(MARKER), "over-limit bytes reached a backend")

    def _release_one_and_reuse(self, proxy, held, held_route, route, backend):
        """Close held[0] (on held_route), then a new connection on `route` relays."""
        mark = proxy.mark()
        held[0].close()
        # The slot is free once the proxy has finished that connection (its access line).
        proxy.wait_access(route=held_route.name, start=mark)
        s = self.client(route.port)
        roundtrip(s, b"after-release\n", env.t(5))
        wait_until(lambda: backend.saw(b"after-release\n"), env.t(5), "bytes at the backend")

    def test_route_max_connections(self):
        echo = self.backend("echo")
        route = self.route("capped", [echo], max_connections=3)
        proxy = self.start_proxy([route])
        held = self._hold(route, 3)
        self._assert_refused(proxy, route, echo, 3)
        self._release_one_and_reuse(proxy, held, route, route, echo)

    def test_global_max_connections(self):
        echo_a, echo_b = self.backend("echo"), self.backend("echo")
        route_a = self.route("a", [echo_a])
        route_b = self.route("b", [echo_b])
        proxy = self.start_proxy([route_a, route_b], {"max_connections": 3})
        held = self._hold(route_a, 2) + self._hold(route_b, 1, start=2)
        self._assert_refused(proxy, route_b, echo_b, 1)
        self._assert_refused(proxy, route_a, echo_a, 2)
        self._release_one_and_reuse(proxy, held, route_a, route_b, echo_b)

    def test_route_cap_counts_connections_across_a_reload(self):
        """Connections opened before a reload still count against the route's cap."""
        echo = self.backend("echo")
        route = self.route("capped", [echo], max_connections=2)
        proxy = self.start_proxy([route])
        held = self._hold(route, 2)
        # Same route and port, another idle timeout: a real reload with a new snapshot.
        route.options["idle_timeout_ms"] = 600000
        mark = proxy.mark()
        self.write_config([route])
        proxy.signal(signal.SIGHUP)
        proxy.wait_record("reloaded", env.t(10), start=mark)
        self._assert_refused(proxy, route, echo, 2)
        self._release_one_and_reuse(proxy, held, route, route, echo)


if __name__ == "__main__":
    unittest.main()
