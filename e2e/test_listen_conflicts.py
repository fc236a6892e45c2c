"""A listen address another socket holds, against the real binary: every route listener
has SO_REUSEPORT (one socket per worker), which would let a second arus-proxy, or any
process of the same user, bind the same address and take part of the clients. A held
address is refused instead: at start (exit 1, the error names file, line, section and
key) and at reload (the running configuration and its listeners stay), for routes and
for stats_listen; the process's own listeners still share, and a reload that keeps or
swaps addresses refuses no client."""
import os
import socket
import unittest

from harness import config, env, free_port, logs, roundtrip, wait_until
from harness.client import connect
from test_reload_load import ClientLoop
from test_reload_triggers import ReloadCase

IN_USE = "already in use by another socket"


def hold(host, port, family=socket.AF_INET, v6only=None) -> socket.socket:
    """The hostile case: a listener of the same user with SO_REUSEADDR and SO_REUSEPORT,
    which the kernel would let share the port with the proxy's own sockets."""
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if v6only is not None:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        s.bind((host, port))
        s.listen(64)
    except OSError:
        s.close()
        raise
    return s


def key_line(text, key_value) -> int:
    """1-based line of `key_value` (e.g. "listen = 127.0.0.1:8080") in a config text."""
    return text.splitlines().index(key_value) + 1


class ListenConflictTest(ReloadCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.web = self.route("web", [self.echo])

    def holder(self, *args, **kwargs) -> socket.socket:
        s = hold(*args, **kwargs)
        self.addCleanup(s.close)
        return s

    def assert_start_refused(self, path, needle):
        """The proxy on `path` must exit 1 with `needle` in its error, never log started."""
        p = self.proxy(["-c", path], wait_started=False)

        def started_or_error(line):
            rec = logs.parse(line)
            return rec is not None and (rec.level == "error" or rec.msg == "started")

        first = logs.parse(p.wait_line(started_or_error, env.t(10), "started or an error"))
        if first.msg == "started":
            p.stop(env.t(8))  # free its ports for the next subtest
            self.fail("started on a held address\n" + p.tail())
        self.assertEqual(p.wait_exit(env.t(10)), 1, p.tail())
        self.assertIn(needle, p.output())

    def wait_reload_result(self, mark) -> logs.LogLine:
        """The first `reloaded` or `reload_failed` line after `mark`."""
        def either(line):
            rec = logs.parse(line)
            return rec is not None and rec.msg in ("reloaded", "reload_failed")
        return logs.parse(self.p.wait_line(either, env.t(10), "the reload's outcome", mark))

    # -- start ------------------------------------------------------------------------
    def test_second_proxy_on_same_address_exits_1_first_keeps_every_client(self):
        self.launch([self.web])
        other = self.backend("echo")
        text = config.render([config.Route("web", [other.address], port=self.web.port)])
        path = os.path.join(self.workdir, "second.conf")
        with open(path, "w") as f:
            f.write(text)
        line = key_line(text, f"listen = {self.web.listen}")
        self.assert_start_refused(
            path, f"second.conf:{line}: [route:web] listen: {self.web.listen} {IN_USE}")
        before = self.echo.accepts
        for i in range(50):
            self.echo_once(self.web.port, b"client %d\n" % i)
        self.assertEqual(self.echo.accepts - before, 50)
        self.assertEqual(other.accepts, 0, "a client reached the second proxy's backend")

    def test_reuseport_socket_of_same_user_makes_start_fail(self):
        port = self.web.port
        holders = [("same address", "127.0.0.1", socket.AF_INET, None),
                   ("IPv4 wildcard", "0.0.0.0", socket.AF_INET, None),
                   ("IPv6 dual-stack wildcard", "::", socket.AF_INET6, 0)]
        for what, host, family, v6only in holders:
            with self.subTest(what):
                try:
                    s = hold(host, port, family, v6only)
                except OSError as e:
                    self.skipTest(f"cannot hold [{host}]:{port}: {e}")
                with s:
                    text = self.render([self.web])
                    self.write_in_place(text)
                    line = key_line(text, f"listen = {self.web.listen}")
                    self.assert_start_refused(
                        self.conf_path,
                        f"proxy.conf:{line}: [route:web] listen: {self.web.listen} {IN_USE}")

    def test_held_stats_listen_makes_start_fail(self):
        self.holder("127.0.0.1", self.stats_port)
        text = self.render([self.web])
        self.write_in_place(text)
        stats = f"127.0.0.1:{self.stats_port}"
        line = key_line(text, f"stats_listen = {stats}")
        self.assert_start_refused(
            self.conf_path, f"proxy.conf:{line}: [global] stats_listen: {stats} {IN_USE}")

    # -- reload -----------------------------------------------------------------------
    def test_reload_to_held_address_fails_keeps_config_and_listener(self):
        held_port = free_port()
        holder = self.holder("127.0.0.1", held_port)
        self.launch([self.web])
        held = self.client(self.web.port)
        roundtrip(held, b"before\n", env.t(5))
        held_listen = f"127.0.0.1:{held_port}"
        moved = self.render([config.Route("web", [self.echo.address], port=held_port)])
        added = self.render([self.web, config.Route("extra", [self.echo.address],
                                                    port=held_port)])
        stats_moved = self.render([self.web], stats_listen=held_listen)
        cases = [  # (what, text, key line, section and key)
            ("route moved", moved, "[route:web] listen"),
            ("route added", added, "[route:extra] listen"),
            ("stats_listen moved", stats_moved, "[global] stats_listen"),
        ]
        for what, text, where in cases:
            with self.subTest(what):
                key = "stats_listen" if "stats" in where else "listen"
                line = key_line(text, f"{key} = {held_listen}")
                gen, errors = self.generation(), self.reloads("error")
                mark = self.p.mark()
                self.write_by_rename(text)
                rec = self.wait_reload_result(mark)
                self.assertEqual(rec.msg, "reload_failed", rec.raw)
                self.assertEqual(rec.fields.get("error"),
                                 f"{self.conf_path}:{line}: {where}: {held_listen} {IN_USE}",
                                 rec.raw)
                wait_until(lambda: self.reloads("error") == errors + 1, env.t(5),
                           "the error counter to grow", self.p.tail)
                self.assertEqual(self.generation(), gen)
                # The running listener and an open connection both carry on.
                self.echo_once(self.web.port, f"old config serves ({what})\n".encode())
                roundtrip(held, f"held ({what})\n".encode(), env.t(5))
                # Nothing of the proxy listens on the held port: every client meets the holder.
                for i in range(10):
                    with connect(held_port, env.t(5)):
                        holder.settimeout(env.t(5))
                        conn, _ = holder.accept()
                        conn.close()

    def test_reload_keeping_or_swapping_addresses_refuses_no_client(self):
        echo_b = self.backend("echo")
        a = self.route("a", [self.echo])
        b = self.route("b", [echo_b])
        self.launch([a, b])
        loops = [ClientLoop(i, port, env.t(60)).start() for i, port in enumerate(
            (a.port, b.port, a.port, b.port))]
        for loop in loops:
            self.addCleanup(loop.stop)
        wait_until(lambda: all(len(loop.attempts) >= 5 for loop in loops), env.t(10),
                   "the client loops to get going", self.p.tail)
        steps = [
            ("addresses kept, backends swapped", [
                config.Route("a", [echo_b.address], port=a.port),
                config.Route("b", [self.echo.address], port=b.port)]),
            ("addresses swapped", [
                config.Route("a", [self.echo.address], port=b.port),
                config.Route("b", [echo_b.address], port=a.port)]),
        ]
        for what, routes in steps:
            mark = self.p.mark()
            self.write_by_rename(self.render(routes))
            rec = self.wait_reload_result(mark)
            self.assertEqual(rec.msg, "reloaded", f"{what}: {rec.raw}")
            counts = [len(loop.attempts) for loop in loops]
            wait_until(lambda: all(len(loop.attempts) >= n + 5 for loop, n in zip(loops, counts)),
                       env.t(10), f"clients to carry on after '{what}'", self.p.tail)
            for route in routes:
                with connect(route.port, env.t(5)) as s:
                    client = "%s:%d" % s.getsockname()
                    roundtrip(s, b"which route?\n", env.t(5))
                self.p.wait_access(route=route.name, client=client, timeout=env.t(5))
        for loop in loops:
            loop.stop()
        failed = [attempt for loop in loops for attempt in loop.attempts if attempt[2]]
        self.assertEqual(failed[:3], [], f"{len(failed)} failed client attempts")


if __name__ == "__main__":
    unittest.main()
