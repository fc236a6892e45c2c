"""Reload under load, against the real binary: client threads open, check and close
connections in a loop on an unchanged listener while the config is rewritten 30 times
(by rename and in place; the backend, an extra route and a timeout change each time).
Zero failed connections; a connection held across all 30 reloads keeps relaying.
Printed, not asserted: write->reloaded times and the slowest connect+echo (the longest
accept pause) seen during the rewrites."""
import threading
import time
import unittest

from harness import config, env, free_port, recv_exact, roundtrip
from harness.client import connect
from test_reload_triggers import ReloadCase, measure

REWRITES = 30
CLIENTS = 2
FAILURE_LIMIT = 20  # a client stops early after this many failures; one is already a fail


class ClientLoop:
    """One thread: connect, send a numbered message, check the echo, close; again, until
    stop() or its time limit. Each attempt is recorded as (start, seconds, error or None);
    the list belongs to the thread until join."""

    def __init__(self, index, port, limit_s):
        self.index = index
        self.port = port
        self.limit_s = limit_s
        self.attempts = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"client-loop-{index}",
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _once(self, n):
        msg = b"client %d attempt %06d " % (self.index, n) + b"z" * 200 + b"\n"
        with connect(self.port, env.t(5)) as s:
            s.sendall(msg)
            got = recv_exact(s, len(msg), env.t(5))
        if got != msg:
            raise AssertionError(f"echo mismatch: {got[:40]!r}")

    def _run(self):
        end = time.monotonic() + self.limit_s
        failures = 0
        n = 0
        while not self._stop.is_set() and time.monotonic() < end and failures < FAILURE_LIMIT:
            t0 = time.monotonic()
            try:
                self._once(n)
                self.attempts.append((t0, time.monotonic() - t0, None))
            except (AssertionError, OSError) as e:
                failures += 1
                self.attempts.append((t0, time.monotonic() - t0, repr(e)))
            n += 1

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self):
        self._stop.set()
        self._thread.join(env.t(15))
        if self._thread.is_alive():
            raise AssertionError(f"client loop {self.index} did not stop")


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


class ReloadUnderLoadTest(ReloadCase):
    def config_for(self, i):
        """The i-th config: web alternates its backend, an extra route comes and goes, and a
        timeout changes so no two consecutive files are alike."""
        backend = (self.echo1 if i % 2 == 0 else self.echo2).address
        routes = [config.Route("web", [backend], {"idle_timeout_ms": 300000 + i},
                               port=self.web_port)]
        if i % 3 == 1:
            routes.append(config.Route("extra", [self.echo1.address], port=self.extra_port))
        return routes

    def test_rewrites_under_load_fail_no_connection(self):
        self.echo1 = self.backend("echo")
        self.echo2 = self.backend("echo")
        self.web_port, self.extra_port = free_port(), free_port()
        self.launch(self.config_for(0))
        gen0 = self.generation()
        held = self.client(self.web_port)
        roundtrip(held, b"held from the start\n", env.t(5))

        loops = [ClientLoop(i, self.web_port, env.t(60)).start() for i in range(CLIENTS)]
        for loop in loops:
            self.addCleanup(loop.stop)
        # Let the loops get going before the first rewrite.
        self.wait_attempts(loops, 10)

        write_to_reloaded, reload_ms, reload_seen = [], [], []
        t_first = time.monotonic()
        for i in range(1, REWRITES + 1):
            routes = self.config_for(i)
            mark = self.p.mark()
            t0 = time.monotonic()
            (self.write_by_rename if i % 2 else self.write_in_place)(self.render(routes))
            rec = self.wait_reloaded(mark)
            reload_seen.append(time.monotonic())
            write_to_reloaded.append(reload_seen[-1] - t0)
            reload_ms.append(int(rec.fields.get("duration_ms", 0)))
            self.assertEqual(int(rec.fields.get("generation")), gen0 + i, rec.raw)
            if len(routes) > 1:
                self.echo_once(self.extra_port, b"extra route %d\n" % i)
            roundtrip(held, b"held through reload %d\n" % i, env.t(5))
        t_last = time.monotonic()
        # Some more traffic after the last reload, then stop.
        self.wait_attempts(loops, 10)
        for loop in loops:
            loop.stop()

        attempts = [a for loop in loops for a in loop.attempts]
        failed = [a for a in attempts if a[2] is not None]
        during = sorted(d for t0, d, err in attempts
                        if err is None and t0 + d >= t_first and t0 <= t_last)
        before = sorted(d for t0, d, err in attempts if err is None and t0 + d < t_first)
        # Attempts in flight within 20 ms before the test saw a `reloaded` line (the swap).
        near = sorted(d for t0, d, err in attempts if err is None and
                      any(t0 <= r and t0 + d >= r - 0.02 for r in reload_seen))
        self.assertEqual(failed[:5], [], f"{len(failed)} of {len(attempts)} connections failed")
        self.assertGreaterEqual(len(during), REWRITES, "too few connections during the rewrites")
        self.assertEqual(self.generation(), gen0 + REWRITES)
        self.assertEqual(self.reloads("error"), 0)
        self.assert_no_reload_error(0)
        bad = [r.raw for r in self.p.access(route="web")
               if r.fields.get("close") not in ("client_eof", "backend_eof")]
        self.assertEqual(bad, [], "connections on web that did not end normally")
        # Both backends served the loop: the backend changes took effect under load.
        self.assertGreater(self.echo1.accepts, 1)
        self.assertGreater(self.echo2.accepts, 0)
        roundtrip(held, b"held at the end\n", env.t(5))

        w = sorted(write_to_reloaded)
        measure(self, f"{REWRITES} rewrites in {t_last - t_first:.2f} s; write->reloaded "
                      f"median {percentile(w, 0.5) * 1000:.1f} ms max {w[-1] * 1000:.1f} ms; "
                      f"reload duration_ms max {max(reload_ms)}")
        measure(self, f"{len(attempts)} connections, 0 failed; during rewrites "
                      f"{len(during)}: connect+echo median {percentile(during, 0.5) * 1000:.2f} "
                      f"ms p99 {percentile(during, 0.99) * 1000:.2f} ms "
                      f"max (longest accept pause) {during[-1] * 1000:.2f} ms; in flight at a "
                      f"swap ({len(near)}): max {percentile(near, 1.0) * 1000:.2f} ms; before "
                      f"the rewrites ({len(before)}): max {percentile(before, 1.0) * 1000:.2f} ms")

    def wait_attempts(self, loops, more):
        """Until every loop has made `more` further attempts (or stopped on failures)."""
        targets = [len(loop.attempts) + more for loop in loops]
        deadline = time.monotonic() + env.t(10)
        while any(len(l.attempts) < t and l.alive() for l, t in zip(loops, targets)):
            if time.monotonic() > deadline:
                raise AssertionError(f"client loops stalled\n{self.p.tail()}")
            time.sleep(0.01)


if __name__ == "__main__":
    unittest.main()
