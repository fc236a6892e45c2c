"""Running out of file descriptors (RLIMIT_NOFILE lowered to 64 in the proxy): connections
that do not fit are accepted and closed at once, the proxy does not spin while it is out of
descriptors, and it serves again once descriptors are free."""
import socket
import time
import unittest

from harness import ProxyTestCase, env, recv_until_closed, wait_until
from harness.client import connect, recv_exact

NOFILE = 64
MAX_TRIES = 100      # more than NOFILE: the limit must bite before this
WINDOW_S = 2.0       # how long the CPU use is watched while out of descriptors
CPU_SHARE_MAX = 0.25  # a spinning accept loop burns ~100% of one core


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


class FdExhaustionTest(ProxyTestCase):
    def test_emfile_refuses_without_spinning_and_recovers(self):
        echo = self.backend("echo")
        route = self.route("fd", [echo])
        proxy = self.start_proxy([route], {"workers": 1}, nofile=NOFILE)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])

        held, first_miss = [], None
        for i in range(MAX_TRIES):
            state, s = probe(route.port, i, env.t(2))
            socks.append(s)
            if state == "held":
                held.append(s)
                continue
            first_miss = state
            break
        self.assertIsNotNone(first_miss, f"{MAX_TRIES} connections held with "
                             f"RLIMIT_NOFILE={NOFILE}: the limit never bit")
        self.assertGreater(len(held), 0, "not even one connection relayed\n" + proxy.tail())

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


if __name__ == "__main__":
    unittest.main()
