"""Drain on SIGTERM/SIGINT: listeners close at once, transfers in flight finish byte-exact,
exit 0 after a complete drain, 1 when the grace period runs out or a second signal comes."""
import asyncio
import signal
import socket
import threading
import unittest

from harness import ProxyTestCase, connect, env, recv_until_closed, roundtrip, wait_until
from harness.client import echo_transfer

TRANSFER_BYTES = env.pick(4 << 20, 1 << 20)
CHUNK_PACE_S = 0.02


class DrainTest(ProxyTestCase):
    def test_inflight_transfer_completes_after_sigterm(self):
        echo = self.backend("echo")
        route = self.route("drain", [echo])
        proxy = self.start_proxy([route], {"grace_period_ms": int(env.t(30) * 1000)})
        quarter = threading.Event()
        outcome = {}

        def progress(sent):
            if sent >= TRANSFER_BYTES // 4:
                quarter.set()

        def transfer():
            # Paced chunks of <= 64 KiB (32 KiB on average): the last three quarters take
            # at least ~0.5 s of pauses alone, so the signal lands mid-transfer.
            outcome["r"] = asyncio.run(echo_transfer(
                route.port, 0, 4242, TRANSFER_BYTES, True, env.t(60), pace_s=CHUNK_PACE_S,
                on_progress=progress, chunk_max=64 * 1024))

        worker = threading.Thread(target=transfer, daemon=True)
        worker.start()
        self.assertTrue(quarter.wait(env.t(20)), "transfer made no progress\n" + proxy.tail())
        proxy.signal(signal.SIGTERM)
        self.assertIsNone(outcome.get("r"), "transfer finished before the signal: test is void")
        proxy.wait_contains(" info draining", env.t(5))

        # The signal and a new SYN race by nature (the listeners close on the workers a
        # moment after the signal); a client that slipped in must be served, and within a
        # short deadline every new client must be refused.
        slipped = []

        def late_client_refused():
            try:
                s = connect(route.port, env.t(2))
            except ConnectionRefusedError:
                return "refused"
            except ConnectionResetError:
                return "reset"  # caught in the backlog of a listener closing right then
            with s:
                try:
                    s.sendall(b"late")
                    s.settimeout(env.t(2))
                    data = s.recv(16)
                except (ConnectionResetError, BrokenPipeError):
                    return "reset"
                except socket.timeout:
                    raise AssertionError("a late client was neither served nor closed") from None
                if not data:
                    return "eof"
                slipped.append(data)
                return None

        wait_until(late_client_refused, env.t(2), "new clients to be refused after SIGTERM",
                   proxy.tail)

        worker.join(env.t(60))
        self.assertFalse(worker.is_alive(), "in-flight transfer did not finish")
        r = outcome["r"]
        self.assertTrue(r.ok(), r.describe() + "\n" + proxy.tail())
        self.assertEqual(proxy.wait_exit(env.t(10)), 0, proxy.tail())
        self.assertTrue(any(" info stopped" in l for l in proxy.lines()), proxy.tail())
        self.assertEqual(echo.accepts, 1 + len(slipped), "a refused client reached the backend")

    def test_grace_period_runs_out(self):
        echo = self.backend("echo")
        route = self.route("stuck", [echo])
        proxy = self.start_proxy([route], {"grace_period_ms": 500})
        s = self.client(route.port)
        roundtrip(s, b"holding on\n", env.t(5))
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait_exit(env.t(10)), 1, proxy.tail())
        _, how = recv_until_closed(s, env.t(5))
        self.assertIn(how, ("eof", "reset"))
        acc = [a for a in proxy.access(route="stuck")]
        self.assertEqual([a.fields.get("close") for a in acc], ["shutdown"], proxy.tail())

    def test_second_signal_cuts_drain_short(self):
        echo = self.backend("echo")
        route = self.route("cut", [echo])
        proxy = self.start_proxy([route], {"grace_period_ms": 600000})
        s = self.client(route.port)
        roundtrip(s, b"holding on\n", env.t(5))
        proxy.signal(signal.SIGTERM)
        proxy.wait_contains(" info draining", env.t(5))
        roundtrip(s, b"still relaying while draining\n", env.t(5))
        proxy.signal(signal.SIGTERM)
        self.assertEqual(proxy.wait_exit(env.t(10)), 1, proxy.tail())

    def test_idle_proxy_exits_at_once(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                route = self.route("idle", [self.backend("echo")])
                # A grace period far beyond the deadline: waiting for it would fail the test.
                proxy = self.start_proxy([route], {"grace_period_ms": 600000})
                proxy.signal(sig)
                self.assertEqual(proxy.wait_exit(env.t(5)), 0, proxy.tail())
                out = proxy.output()
                self.assertIn(" info draining", out)
                self.assertIn(" info stopped", out)


if __name__ == "__main__":
    unittest.main()
