"""Reload and routes, against the real binary: an added route listens at once, a removed
route refuses new clients while its open connection keeps relaying, a changed backend
takes new connections while a streaming one stays on the old backend, and an invalid
configuration is refused while the running one keeps serving; once `info reloaded` is
logged, new connections get the new configuration. Measured times are printed, never
asserted."""
import socket
import threading
import time
import unittest

from harness import config, env, http, roundtrip, wait_until
from harness.client import connect, recv_exact
from test_reload_load import ClientLoop
from test_reload_triggers import ReloadCase, measure


class Streamer:
    """A client thread that keeps one connection busy: numbered messages, each echo
    checked, until stop() or its own time limit. Failures are kept for the test thread."""

    def __init__(self, port, limit_s):
        self.sock = connect(port, env.t(5))
        self.sent = 0
        self.rounds = 0
        self.error = None
        self._stop = threading.Event()
        self._limit_s = limit_s
        self._thread = threading.Thread(target=self._run, name="streamer", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        end = time.monotonic() + self._limit_s
        try:
            while not self._stop.is_set() and time.monotonic() < end:
                msg = b"stream %06d " % self.rounds + b"x" * 4000 + b"\n"
                self.sock.sendall(msg)
                got = recv_exact(self.sock, len(msg), env.t(5))
                if got != msg:
                    raise AssertionError(f"round {self.rounds}: echo mismatch")
                self.sent += len(msg)
                self.rounds += 1
                time.sleep(0.002)
        except (AssertionError, OSError) as e:
            self.error = f"after {self.rounds} rounds: {e!r}"

    def wait_rounds(self, n, what):
        wait_until(lambda: self.rounds >= n or self.error, env.t(10), what)

    def stop(self):
        self._stop.set()
        self._thread.join(env.t(10))
        self.sock.close()


class ReloadRoutesTest(ReloadCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.web = self.route("web", [self.echo])

    def probe(self, port) -> str:
        """'refused', 'served' when a connection was accepted and echoed, or 'reset' when
        it was caught in the backlog of a listener that closed at that moment."""
        try:
            self.echo_once(port, b"probe\n")
        except ConnectionRefusedError:
            return "refused"
        except ConnectionResetError:
            return "reset"
        return "served"

    def wait_refused(self, port):
        """Until the reload lands, the old listener still serves; then it must refuse."""
        wait_until(lambda: self.probe(port) == "refused", env.t(5),
                   f"127.0.0.1:{port} to refuse connections", self.p.tail)

    def test_added_route_listens_within_a_second(self):
        self.launch([self.web])
        held = self.client(self.web.port)
        roundtrip(held, b"before\n", env.t(5))
        routes = [self.web]
        times = []
        for i in range(3):
            extra = self.route(f"added{i}", [self.echo])
            routes.append(extra)
            mark = self.p.mark()
            t0 = time.monotonic()
            self.write_by_rename(self.render(routes))
            times.append(self.wait_serving(extra.port, t0, env.t(5)))
            self.wait_reloaded(mark, routes=len(routes))
            roundtrip(held, b"held %d\n" % i, env.t(5))
        for r in routes:
            self.echo_once(r.port, f"route {r.name}\n".encode())
        measure(self, "write->listening " + ", ".join(f"{t * 1000:.1f}" for t in times) + " ms")

    def test_removed_route_keeps_open_connection_refuses_new(self):
        old = self.route("old", [self.echo])
        self.launch([self.web, old])
        held = self.client(old.port)
        roundtrip(held, b"on the old route\n", env.t(5))
        mark = self.p.mark()
        t0 = time.monotonic()
        self.write_by_rename(self.render([self.web]))
        self.wait_refused(old.port)
        refused_after = time.monotonic() - t0
        self.wait_reloaded(mark, routes=1)
        # The open connection still relays, in both directions, many times over.
        for i in range(20):
            roundtrip(held, b"still relaying %d " % i + b"y" * 8000 + b"\n", env.t(5))
        self.assertEqual(self.probe(old.port), "refused")
        self.echo_once(self.web.port, b"web unaffected\n")
        # It finishes normally and is logged under the route it started on.
        client = "%s:%d" % held.getsockname()
        held.shutdown(socket.SHUT_WR)
        acc = self.p.wait_access(route="old", client=client, timeout=env.t(5))
        self.assertIn(acc.fields.get("close"), ("client_eof", "backend_eof"), acc.raw)
        self.assertGreater(int(acc.fields.get("client_to_backend")), 20 * 8000, acc.raw)
        measure(self, f"write->removed listener refusing {refused_after * 1000:.1f} ms")

    def test_readded_route_binds_again_while_old_connection_open(self):
        old = self.route("old", [self.echo])
        self.launch([self.web, old])
        held = self.client(old.port)
        roundtrip(held, b"first life\n", env.t(5))
        mark = self.p.mark()
        self.write_by_rename(self.render([self.web]))
        self.wait_refused(old.port)
        self.wait_reloaded(mark)
        # Same address again: it must bind although a connection on that port is open.
        mark = self.p.mark()
        t0 = time.monotonic()
        self.write_by_rename(self.render([self.web, old]))
        self.wait_serving(old.port, t0)
        self.wait_reloaded(mark, routes=2)
        self.assert_no_reload_error(mark)
        roundtrip(held, b"first life goes on\n", env.t(5))

    def lands_on(self, backend, port) -> bool:
        """One fresh connection through `port`; True when `backend` served it."""
        before = backend.accepts
        self.echo_once(port, b"which backend?\n")
        return backend.accepts > before

    def test_backend_change_while_streaming(self):
        echo2 = self.backend("echo")
        self.launch([self.web])
        stream = Streamer(self.web.port, env.t(20)).start()
        self.addCleanup(stream.stop)
        stream.wait_rounds(10, "the stream to get going")
        mark = self.p.mark()
        t0 = time.monotonic()
        self.write_by_rename(self.render([config.Route("web", [echo2.address],
                                                       port=self.web.port)]))
        self.wait_reloaded(mark)
        took = self.wait_effective(lambda: self.lands_on(echo2, self.web.port),
                                   "new connections on the new backend", t0)
        rounds_at_reload = stream.rounds
        # New connections go to the new backend...
        for i in range(5):
            self.assertTrue(self.lands_on(echo2, self.web.port), f"connection {i}")
        # ...while the stream keeps flowing to the old one.
        stream.wait_rounds(rounds_at_reload + 20, "the stream to go on after the reload")
        stream.stop()
        self.assertIsNone(stream.error, stream.error)
        streamed = self.echo.records[0]  # the first connection through web
        self.assertTrue(bytes(streamed.head).startswith(b"stream 000000 "))
        wait_until(lambda: streamed.received == stream.sent, env.t(5),
                   "every streamed byte at the old backend")
        self.assertFalse(echo2.saw(b"stream "), "streamed bytes reached the new backend")
        measure(self, f"write->new backend serving {took * 1000:.1f} ms; stream "
                      f"{stream.rounds} rounds ({rounds_at_reload} before the switch)")

    def route_stats(self, name) -> dict:
        stats = http.get_stats(self.stats_port, env.t(5))
        return next(r for r in stats["routes"] if r["name"] == name)

    def test_unchanged_busy_route_keeps_connections_and_counters(self):
        # Issue 19: a reload reuses an unchanged route's runtime (its counts, health, stats
        # rows) while another route's backend changes. Its streaming connection goes on,
        # its counters continue, and its count of open connections ends at zero.
        echo2, echo3 = self.backend("echo"), self.backend("echo")  # web's is self.echo
        other = self.route("other", [echo2])
        self.launch([self.web, other])
        churn = ClientLoop(0, self.web.port, env.t(30)).start()
        self.addCleanup(churn.stop)
        stream = Streamer(self.web.port, env.t(30)).start()
        self.addCleanup(stream.stop)
        stream.wait_rounds(10, "the stream to get going")
        before = self.route_stats("web")
        counted_from = time.monotonic()  # clients that start from now on count after `before`
        for i in range(1, 7):
            backend = echo3 if i % 2 else echo2
            mark = self.p.mark()
            self.write_by_rename(self.render([
                self.web, config.Route("other", [backend.address], port=other.port)]))
            self.wait_reloaded(mark)
            self.wait_effective(lambda b=backend: self.lands_on(b, other.port),
                                f"reload {i}: the other route on its new backend")
            rounds = stream.rounds
            stream.wait_rounds(rounds + 5, f"reload {i}: the stream to go on")
        churn.stop()
        stream.stop()
        self.assertIsNone(stream.error, stream.error)
        self.assertEqual([a for a in churn.attempts if a[2]][:3], [], "churn failures")
        wait_until(lambda: self.route_stats("web")["connections_active"] == 0, env.t(10),
                   "web's open connections to be counted down to 0")
        after = self.route_stats("web")
        later = sum(1 for a in churn.attempts if a[0] > counted_from)
        self.assertGreater(later, 0, "the churn went on through the reloads")
        self.assertGreaterEqual(after["connections_total"], before["connections_total"] + later,
                                "web's counter continued through the reloads")
        self.assertGreaterEqual(after["bytes"]["client_to_backend"], stream.sent)
        measure(self, f"web: {before['connections_total']} -> {after['connections_total']} "
                      f"connections over 6 reloads of another route; stream "
                      f"{stream.rounds} rounds")

    def test_connections_after_reloaded_line_use_new_config(self):
        # `info reloaded` (like arus_config_generation) tells an operator the new config is
        # in effect: a client that connects after it must get the new backend. Connection
        # churn on another route keeps the workers busy, as in production.
        echo2, echo3 = self.backend("echo"), self.backend("echo")
        busy = config.Route("busy", [echo3.address])
        self.launch([self.web, busy])
        churn = [ClientLoop(i, busy.port, env.t(30)).start() for i in range(2)]
        for loop in churn:
            self.addCleanup(loop.stop)
        stale = []
        for i in range(1, 31):
            backend = echo2 if i % 2 else self.echo
            mark = self.p.mark()
            self.write_by_rename(self.render([config.Route("web", [backend.address],
                                                           port=self.web.port), busy]))
            rec = self.wait_reloaded(mark)
            if not self.lands_on(backend, self.web.port):
                stale.append(f"reload {i} (generation={rec.fields.get('generation')}): a "
                             f"connection made after the line went to the old backend")
        for loop in churn:
            loop.stop()
        self.assertEqual([a for loop in churn for a in loop.attempts if a[2]][:3], [])
        self.assertEqual(stale, [], f"{len(stale)} of 30 reloads")

    def test_invalid_config_keeps_old_one(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        self.launch([self.web])
        held = self.client(self.web.port)
        roundtrip(held, b"before\n", env.t(5))
        base = self.render([self.web])
        n = len(base.splitlines())
        web_line = base.splitlines().index("[route:web]") + 1
        cases = [  # (what, text, text expected in the error)
            ("syntax", base + "this line has no equals sign\n", f"proxy.conf:{n + 1}: "),
            ("bad port", base.replace(self.web.listen, "127.0.0.1:70000"),
             f"proxy.conf:{web_line + 1}: [route:web] listen"),
            ("unknown key", base + "colour = blue\n", f"proxy.conf:{n + 1}: [route:web] colour"),
            ("no backend", base + "\n[route:empty]\nlisten = 127.0.0.1:1\n",
             f"proxy.conf:{n + 2}: [route:empty]"),
            ("port in use", base + "\n[route:taken]\nlisten = 127.0.0.1:%d\nbackend = %s\n"
             % (busy.getsockname()[1], self.echo.address), "[route:taken] listen"),
        ]
        for what, text, needle in cases:
            with self.subTest(what):
                gen, errors = self.generation(), self.reloads("error")
                mark = self.p.mark()
                self.write_by_rename(text)
                rec = self.wait_reload_failed(mark)
                self.assertEqual(rec.level, "error", rec.raw)
                self.assertIn(needle, rec.fields.get("error", ""), rec.raw)
                self.assertRegex(rec.fields.get("error", ""), r"proxy\.conf:\d+: ", rec.raw)
                wait_until(lambda: self.reloads("error") == errors + 1, env.t(5),
                           "the error counter to grow", self.p.tail)
                self.assertEqual(self.generation(), gen)
                self.assertFalse(self.p.records("reloaded"), "an invalid config was applied")
                self.echo_once(self.web.port, f"old config serves ({what})\n".encode())
                roundtrip(held, f"held ({what})\n".encode(), env.t(5))
        # A valid file afterwards applies as usual.
        extra = self.route("fixed", [self.echo])
        mark = self.p.mark()
        t0 = time.monotonic()
        self.write_by_rename(self.render([self.web, extra]))
        self.wait_serving(extra.port, t0)
        self.wait_reloaded(mark)
        self.assertEqual(self.reloads("error"), len(cases))


if __name__ == "__main__":
    unittest.main()
