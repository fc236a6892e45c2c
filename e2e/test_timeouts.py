"""Connect and idle timeouts. The connect timeout uses a backend whose accept queue is full
(listen(0), one queued handshake), so the kernel drops further SYNs and a connect stays
pending: a black hole on 127.0.0.1 without special privileges."""
import socket
import time
import unittest

from harness import Blackhole, ProxyTestCase, env, recv_until_closed, roundtrip

IDLE_MS = int(500 * env.TIME_SCALE)


class ConnectTimeoutTest(ProxyTestCase):
    def test_unanswered_connect_times_out(self):
        hole = Blackhole()
        self.addCleanup(hole.close)
        if not hole.fill():
            self.skipTest("could not make a connect stay pending on 127.0.0.1")
        route = self.route("slow", [f"127.0.0.1:{hole.port}"], connect_timeout_ms=300, retries=1)
        proxy = self.start_proxy([route])
        s = self.client(route.port)
        s.sendall(b"hello?")
        _, how = recv_until_closed(s, env.t(10))
        self.assertIn(how, ("eof", "reset"))
        acc = proxy.wait_access(route="slow")
        self.assertEqual(acc.fields.get("close"), "connect_failed", acc.raw)
        self.assertTrue(hole.verify(), "the black hole stopped being one during the test")


class IdleTimeoutTest(ProxyTestCase):
    def _proxy(self, backend):
        route = self.route("idle", [backend], idle_timeout_ms=IDLE_MS)
        return route, self.start_proxy([route])

    def test_silent_connection_is_closed(self):
        route, proxy = self._proxy(self.backend("echo"))
        s = self.client(route.port)
        data, how = recv_until_closed(s, env.t(10) + IDLE_MS / 1000)
        self.assertEqual((data, how), (b"", "eof"))
        acc = proxy.wait_access(route="idle")
        self.assertEqual(acc.fields.get("close"), "idle_timeout", acc.raw)

    def test_active_connection_is_kept(self):
        route, proxy = self._proxy(self.backend("echo"))
        s = self.client(route.port)
        period = IDLE_MS / 1000 / 5
        end = time.monotonic() + 3 * IDLE_MS / 1000
        n = 0
        while time.monotonic() < end:
            roundtrip(s, bytes([65 + n % 26]), env.t(5))
            n += 1
            time.sleep(period)
        roundtrip(s, b"still-here", env.t(5))
        self.assertEqual(proxy.access(route="idle"), [], "the active connection was closed")
        s.shutdown(socket.SHUT_WR)
        _, how = recv_until_closed(s, env.t(5))
        self.assertEqual(how, "eof")

    def test_half_closed_connection_still_idles_out(self):
        holder = self.backend("hold")
        route, proxy = self._proxy(holder)
        s = self.client(route.port)
        s.sendall(b"one request")
        s.shutdown(socket.SHUT_WR)
        data, how = recv_until_closed(s, env.t(10) + IDLE_MS / 1000)
        self.assertEqual(data, b"")
        self.assertIn(how, ("eof", "reset"))
        self.assertEqual(holder.records[0].eof_after, len(b"one request"))
        acc = proxy.wait_access(route="idle")
        self.assertEqual(acc.fields.get("close"), "idle_timeout", acc.raw)


if __name__ == "__main__":
    unittest.main()
