"""Backend behaviour seen through the proxy: a server that speaks first, a server that
closes first, and backends that refuse connections (retries, marking down)."""
import unittest

from harness import (ProxyTestCase, env, expect_closed, free_port, recv_exact,
                     recv_until_closed, roundtrip, wait_until)


class ServerSpeaksFirstTest(ProxyTestCase):
    def test_banner_arrives_without_client_bytes(self):
        backend = self.backend("banner", banner=b"220 hello\r\n")
        route = self.route("smtp", [backend])
        self.start_proxy([route])
        s = self.client(route.port)
        self.assertEqual(recv_exact(s, 11, env.t(5)), b"220 hello\r\n")


class BackendClosesFirstTest(ProxyTestCase):
    def test_response_then_eof(self):
        request = b"GET /big\r\n"
        response = bytes(range(256)) * 2048  # 512 KiB
        backend = self.backend("respond_close", request_len=len(request), response=response)
        route = self.route("bcf", [backend])
        proxy = self.start_proxy([route])
        s = self.client(route.port)
        s.sendall(request)
        data, how = recv_until_closed(s, env.t(10))
        self.assertEqual(how, "eof")
        self.assertEqual(len(data), len(response))
        self.assertEqual(data, response)
        s.close()
        acc = proxy.wait_access(route="bcf")
        self.assertEqual(acc.fields.get("close"), "backend_eof", acc.raw)
        self.assertEqual(int(acc.fields["client_to_backend"]), len(request))
        self.assertEqual(int(acc.fields["backend_to_client"]), len(response))


class BackendDownTest(ProxyTestCase):
    def test_dead_backend_is_retried_past_and_marked_down(self):
        dead = f"127.0.0.1:{free_port()}"  # nothing listens: connection refused
        echo = self.backend("echo")
        route = self.route("mixed", [dead, echo], retries=2)
        proxy = self.start_proxy([route])
        for i in range(10):
            with self.subTest(connection=i):
                s = self.client(route.port)
                roundtrip(s, b"hello-%d\n" % i, env.t(5))
                s.close()
        self.assertEqual(echo.accepts, 10)
        line = proxy.wait_line(lambda l: f"backend_down route=mixed backend={dead}" in l,
                               env.t(5), "backend_down warning for the dead backend")
        self.assertIn(" warn ", line)
        failed = [l for l in proxy.lines() if " warn " in l and "connect_failed" in l]
        self.assertTrue(failed, "no warn line about connect_failed\n" + proxy.tail())
        self.assertFalse(any(f"backend_down route=mixed backend={echo.address}" in l
                             for l in proxy.lines()), "the live backend was marked down")
        # Every access line of this route succeeded (no connect_failed closes).
        wait_until(lambda: len(proxy.access(route="mixed")) >= 10, env.t(5), "10 access lines",
                   proxy.tail)
        reasons = {a.fields.get("close") for a in proxy.access(route="mixed")}
        self.assertNotIn("connect_failed", reasons)

    def test_only_dead_backends_close_the_client(self):
        dead1, dead2 = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        route = self.route("dead", [dead1, dead2], retries=2)
        proxy = self.start_proxy([route])
        for i in range(3):
            with self.subTest(connection=i):
                how = expect_closed(route.port, env.t(5), send=b"anyone there?\n")
                self.assertIn(how, ("eof", "reset"))
        acc = proxy.wait_access(route="dead")
        self.assertEqual(acc.fields.get("close"), "connect_failed", acc.raw)
        self.assertEqual(acc.fields.get("backend_to_client"), "0")


if __name__ == "__main__":
    unittest.main()
