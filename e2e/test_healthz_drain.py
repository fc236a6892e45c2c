"""/healthz for what stands in front: 200 while serving, 503 "draining" from the start of a
drain until exit, the stats listener open through the drain (SPEC "Health for what
stands in front")."""
import signal
import time
import unittest

from harness import ProxyTestCase, env, free_port, roundtrip, wait_until
from harness import http


class HealthzDrainTest(ProxyTestCase):
    def test_healthz_is_503_while_a_long_connection_drains(self):
        echo = self.backend("echo")
        route = self.route("long", [echo])
        stats_port = free_port()
        proxy = self.start_proxy([route], {"stats_listen": f"127.0.0.1:{stats_port}",
                                           "grace_period_ms": int(env.t(30) * 1000)})
        status, _, body = http.request(stats_port, "/healthz", env.t(5))
        self.assertEqual((status, body), (200, b"ok\n"))

        long_conn = self.client(route.port)
        roundtrip(long_conn, b"still here", env.t(5))
        wait_until(lambda: http.get_stats(stats_port, env.t(5))["routes"][0]
                   ["connections_active"] == 1, env.t(5), "the long connection counted")

        sent = time.monotonic()
        proxy.signal(signal.SIGTERM)
        seen = None
        polls = 0
        deadline = time.monotonic() + env.t(10)
        while time.monotonic() < deadline:
            polls += 1
            status, _, body = http.request(stats_port, "/healthz", env.t(5))
            if status == 503:
                seen = time.monotonic()
                break
            self.assertEqual(status, 200)
        self.assertIsNotNone(seen, "/healthz never answered 503 after SIGTERM\n" + proxy.tail())
        self.assertEqual(body, b"draining\n")
        print(f"\n  /healthz 503 {1000 * (seen - sent):.1f} ms after SIGTERM "
              f"({polls} polls; SPEC aim: within 100 ms)")

        # The long connection still relays while the proxy answers 503, and the stats
        # listener stays open to the end of the drain.
        self.assertTrue(proxy.running(), "the proxy exited with a connection open")
        roundtrip(long_conn, b"during the drain", env.t(5))
        status, _, _ = http.request(stats_port, "/healthz", env.t(5))
        self.assertEqual(status, 503)
        status, _, _ = http.request(stats_port, "/metrics", env.t(5))
        self.assertEqual(status, 200)
        long_conn.close()
        self.assertEqual(proxy.wait_exit(env.t(10)), 0, proxy.tail())


if __name__ == "__main__":
    unittest.main()
