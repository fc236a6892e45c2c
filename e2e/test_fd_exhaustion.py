"""Running out of file descriptors (RLIMIT_NOFILE lowered to 64 in the proxy): connections
that do not fit are accepted and closed at once, the proxy does not spin while it is out of
descriptors, it serves again once descriptors are free, and every client refused for want
of a descriptor, at accept or at the backend connect, is counted and logged as refused."""
import os
import socket
import time
import unittest

from harness import ProxyTestCase, env, free_port, http, recv_until_closed, wait_until
from harness.client import connect, recv_exact

NOFILE = 64
MAX_TRIES = 100      # more than NOFILE: the limit must bite before this
WINDOW_S = 2.0       # how long the CPU use is watched while out of descriptors
CPU_SHARE_MAX = 0.25  # a spinning accept loop burns ~100% of one core
ROUTES = 40


def probe(port, index, wait_s):
    """Connect, send, and classify: ('held', s) echoed, ('closed', s) closed by the proxy,
    ('hanging', s) neither within wait_s."""
    s = connect(port, wait_s)
    msg = b"fd-%03d\n" % index
    try:
        s.sendall(msg)
        s.settimeout(wait_s)
        data = s.recv(len(msg))
    except socket.timeout:
        return "hanging", s
    except (ConnectionResetError, BrokenPipeError):
        return "closed", s
    if not data:
        return "closed", s
    rest = recv_exact(s, len(msg) - len(data), wait_s) if len(data) < len(msg) else b""
    if data + rest != msg:
        raise AssertionError(f"echo mismatch {data + rest!r}")
    return "held", s


def hold_until_missed(case, port, proxy, socks):
    """Opens relayed connections until one is not held; returns (held sockets, how the
    first one that did not fit ended: 'closed' or 'hanging'). Every socket goes to socks."""
    held = []
    for i in range(MAX_TRIES):
        state, s = probe(port, i, env.t(2))
        socks.append(s)
        if state != "held":
            case.assertGreater(len(held), 0, "not even one connection relayed\n" + proxy.tail())
            return held, state
        held.append(s)
    case.fail(f"{MAX_TRIES} connections held with RLIMIT_NOFILE={NOFILE}: the limit never bit")


class FdExhaustionTest(ProxyTestCase):
    def test_the_spare_descriptor_is_one_per_worker_not_one_per_listener(self):
        # Each worker keeps one spare descriptor to refuse clients with when descriptors run
        # out; one per listener cost a descriptor per route per worker, so 5,000 routes on
        # two workers did not fit in 20,000 descriptors.
        echo = self.backend("echo")
        routes = [self.route(f"r{i}", [echo]) for i in range(ROUTES)]
        proxy = self.start_proxy(routes, {"workers": 2})
        fds = os.listdir(f"/proc/{proxy.pid}/fd")
        nulls = sum(1 for fd in fds
                    if os.readlink(f"/proc/{proxy.pid}/fd/{fd}") == "/dev/null")
        print(f"\n  {ROUTES} routes on 2 workers: {len(fds)} descriptors, {nulls} /dev/null")
        # stdin is /dev/null too (the harness starts the proxy so); then one per worker.
        self.assertLessEqual(nulls, 3, proxy.tail())
        self.assertLess(len(fds), 2 * ROUTES + 40, proxy.tail())

    def test_emfile_refuses_without_spinning_and_recovers(self):
        echo = self.backend("echo")
        route = self.route("fd", [echo])
        proxy = self.start_proxy([route], {"workers": 1}, nofile=NOFILE)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])

        held, first_miss = hold_until_missed(self, route.port, proxy, socks)

        # Out of descriptors: keep knocking for WINDOW_S and watch the proxy's CPU time.
        cpu0, t0 = proxy.cpu_seconds(), time.monotonic()
        knocks = []
        while time.monotonic() - t0 < WINDOW_S:
            try:
                k = connect(route.port, env.t(2))
            except OSError as e:  # a full backlog can make connect itself time out
                knocks.append(("connect", e))
                continue
            socks.append(k)
            knocks.append(("open", k))
            time.sleep(0.2)
        wall = time.monotonic() - t0
        cpu = proxy.cpu_seconds() - cpu0
        self.assertLess(cpu, CPU_SHARE_MAX * wall,
                        f"proxy used {cpu:.2f}s CPU in {wall:.2f}s while out of descriptors "
                        f"(spinning?)\n{proxy.tail()}")

        self.assertEqual(first_miss, "closed", f"connection {len(held)} was left hanging "
                         f"instead of being closed at once\n{proxy.tail()}")
        for kind, k in knocks:
            self.assertEqual(kind, "open", f"connect failed while out of descriptors: {k}")
            _, how = recv_until_closed(k, env.t(3))
            self.assertIn(how, ("eof", "reset"))
        self.assertFalse(echo.saw(b"fd-%03d\n" % len(held)), "refused bytes reached the backend")

        # Free the descriptors; the proxy must serve again.
        for s in socks:
            s.close()
        socks.clear()

        def serves():
            try:
                state, s = probe(route.port, 999, env.t(1))
            except OSError:
                return False
            socks.append(s)
            return state == "held"
        wait_until(serves, env.t(15), "a relayed connection after descriptors were freed",
                   proxy.tail)

    @staticmethod
    def refused_fds(stats_port):
        """arus_refused_total{route="fd",reason="fds"}, or None while the proxy has no
        descriptor to answer with."""
        try:
            samples = http.get_metrics(stats_port, env.t(2))
        except (OSError, AssertionError):
            return None
        return http.metric(samples, "arus_refused_total", route="fd", reason="fds")

    def test_issue12_no_descriptor_for_the_backend_socket_is_a_counted_refusal(self):
        # Issue 12, item 6: a client accepted with the last descriptor, whose backend socket
        # then cannot be made (EMFILE), was closed with close=error and not counted. It is
        # refused like a client the listener has no descriptor for: close=limit, with
        # error=EMFILE, counted in arus_refused_total{reason="fds"}.
        echo = self.backend("echo")
        route = self.route("fd", [echo])
        stats_port = free_port()
        proxy = self.start_proxy(
            [route], {"workers": 1, "stats_listen": f"127.0.0.1:{stats_port}"}, nofile=NOFILE)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        # The series exists from the start. Served once before descriptors run out, also so
        # that UBSan has checked the stats client's type by then: its check needs a pipe.
        self.assertEqual(self.refused_fds(stats_port), 0)

        # A held connection takes two descriptors (client, backend), so which step runs out
        # depends on the parity of what is free: the first client that does not fit is
        # refused at accept (none free) or at the backend socket (one free).
        mark = proxy.mark()
        held, first_miss = hold_until_missed(self, route.port, proxy, socks)
        self.assertEqual(first_miss, "closed", proxy.tail())
        miss = proxy.wait_access(env.t(5), start=mark, route="fd")
        miss_index = len(held)
        if miss.fields["backend"] == "-":
            # Refused at accept: none free. Closing a held connection frees two, a kept-alive
            # stats connection takes one, so the next client gets the last one at accept.
            mark = proxy.mark()
            held.pop().close()
            proxy.wait_access(env.t(5), start=mark, route="fd", close="client_eof")
            stats = connect(stats_port, env.t(5))
            socks.append(stats)
            stats.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            stats.settimeout(env.t(5))
            self.assertIn(b"200", stats.recv(4096), "the stats connection was not served")
            mark = proxy.mark()
            miss_index = 500
            state, s = probe(route.port, miss_index, env.t(2))
            socks.append(s)
            self.assertEqual(state, "closed", proxy.tail())
            miss = proxy.wait_access(env.t(5), start=mark, route="fd")

        self.assertEqual(miss.fields["backend"], echo.address, miss.raw)
        self.assertEqual(miss.fields.get("close"), "limit", miss.raw)
        self.assertEqual(miss.fields.get("error"), "EMFILE", miss.raw)
        self.assertFalse(echo.saw(b"fd-%03d\n" % miss_index), "refused bytes reached the backend")

        for s in socks:
            s.close()
        socks.clear()

        refused_lines = len(proxy.access(route="fd", close="limit"))
        wait_until(lambda: self.refused_fds(stats_port) == refused_lines, env.t(15),
                   f"arus_refused_total{{reason=\"fds\"}} == {refused_lines}, one per close=limit",
                   proxy.tail)


if __name__ == "__main__":
    unittest.main()
