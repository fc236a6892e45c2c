"""Logging never stalls relaying (issue 11 item 3): with the proxy's stderr on a pipe
nobody reads, connections keep moving, the lines that do not fit are dropped and counted
(arus_log_lines_dropped_total, /stats log_lines_dropped), and once the pipe is read again
a `log_lines_dropped count=N` line tells how many. Queued lines still reach stderr at exit."""
import json
import signal
import unittest

from harness import ProxyTestCase, env, free_port, http, logs, roundtrip

# The longest route name an INI line allows, so each access line is ~350 bytes and a few
# thousand connections overflow the 64 KiB pipe plus the proxy's 512 KiB queue.
LONG_NAME = "sink-" + "x" * 175
MAX_CONNECTIONS = 20000  # far more than needed; a bound, not an expectation


class LogSinkTest(ProxyTestCase):
    def start(self):
        backend = self.backend("echo")
        route = self.route(LONG_NAME, [backend])
        self.stats_port = free_port()
        proxy = self.start_proxy([route], {"stats_listen": f"127.0.0.1:{self.stats_port}"})
        return proxy, route

    def dropped(self):
        samples = http.get_metrics(self.stats_port, env.t(5))
        return http.metric(samples, "arus_log_lines_dropped_total")

    def relay_until_lines_drop(self, proxy, route):
        """One short echo connection after another, each held to a deadline, until the
        proxy reports dropped log lines. Returns how many connections it took."""
        for n in range(1, MAX_CONNECTIONS + 1):
            try:
                s = self.client(route.port, timeout=env.t(5))
                roundtrip(s, b"ping %d\n" % n, env.t(5))
                s.close()
            except (AssertionError, OSError) as e:
                raise AssertionError(f"connection {n} did not relay while stderr was not read "
                                     f"(relaying stalled behind logging?): {e}") from None
            if n % 100 == 0 and (self.dropped() or 0) > 0:
                return n
        self.fail(f"{MAX_CONNECTIONS} connections and arus_log_lines_dropped_total still "
                  f"{self.dropped()}")

    def test_unread_stderr_drops_lines_and_relaying_goes_on(self):
        proxy, route = self.start()
        proxy.pause_output()
        self.relay_until_lines_drop(proxy, route)

        status, _, body = http.request(self.stats_port, "/stats", env.t(5))
        self.assertEqual(status, 200)
        self.assertGreater(json.loads(body)["log_lines_dropped"], 0)

        mark = proxy.mark()
        proxy.resume_output()
        notice = proxy.wait_record("log_lines_dropped", timeout=env.t(10), start=mark)
        self.assertEqual(notice.level, "warn", notice.raw)
        self.assertGreater(int(notice.fields["count"]), 0, notice.raw)

        # Relaying and logging carry on; the access line of a new connection shows up.
        s = self.client(route.port)
        roundtrip(s, b"after\n", env.t(5))
        client = f"127.0.0.1:{s.getsockname()[1]}"
        s.close()
        proxy.wait_access(timeout=env.t(10), client=client)

        # Every dropped line was told, and every line came out whole.
        told = sum(int(r.fields["count"]) for r in proxy.records("log_lines_dropped"))
        self.assertEqual(told, self.dropped())
        for line in proxy.lines():
            self.assertIsNotNone(logs.parse(line), f"not one whole log line: {line!r}")

    def test_exit_is_not_held_by_an_unread_stderr(self):
        proxy, route = self.start()
        proxy.pause_output()
        self.relay_until_lines_drop(proxy, route)
        proxy.signal(signal.SIGTERM)
        # The writer gives up on the stuck pipe after a bounded wait; the drain's status stays.
        self.assertEqual(proxy.wait_exit(timeout=env.t(10)), 0)

    def test_queued_lines_reach_stderr_at_exit(self):
        proxy, route = self.start()
        s = self.client(route.port)
        roundtrip(s, b"last\n", env.t(5))
        s.close()
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait_exit(), 0)
        out = proxy.output()
        self.assertIn(" info access ", out)
        self.assertRegex(out.splitlines()[-1], r" info stopped exit_status=0$")


if __name__ == "__main__":
    unittest.main()
