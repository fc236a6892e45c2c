#!/usr/bin/env python3
"""Self-test of the harness without the proxy: clients talk straight to the fake backends.
  python3 e2e/harness_selftest.py      (not collected by run.py: no test_ prefix)"""
import asyncio
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Backend, Blackhole, connect, echo_transfer, env, logs,  # noqa: E402
                     recv_exact, recv_until_closed, roundtrip, wait_until)
from harness import config  # noqa: E402
from harness.client import payload_digest  # noqa: E402


class HarnessSelfTest(unittest.TestCase):
    def test_echo_many_concurrent_both_modes(self):
        b = Backend("echo").start()
        self.addCleanup(b.stop)
        for half_close in (True, False):
            async def main():
                return await asyncio.gather(*[
                    echo_transfer(b.port, i, 1000 + i, (1 << 20) + i * 77777, half_close, 60)
                    for i in range(20)])
            t0 = time.monotonic()
            results = asyncio.run(main())
            bad = [r.describe() for r in results if not r.ok()]
            self.assertEqual(bad, [])
            print(f"\n  20 echo transfers half_close={half_close}: {time.monotonic() - t0:.2f}s")

    def test_digest_deterministic(self):
        self.assertEqual(payload_digest(5, 12345), payload_digest(5, 12345))
        self.assertNotEqual(payload_digest(5, 12345), payload_digest(6, 12345))

    def test_reply_after_eof(self):
        b = Backend("reply_after_eof", reply=b"x" * 100000).start()
        self.addCleanup(b.stop)
        s = connect(b.port, 5)
        s.sendall(b"hello" * 1000)
        s.shutdown(socket.SHUT_WR)
        data, how = recv_until_closed(s, 5)
        self.assertEqual(how, "eof")
        self.assertEqual(len(data), 64 + 100000)
        wait_until(lambda: b.records and b.records[0].eof_after == 5000, 5, "eof")

    def test_banner_and_respond_close(self):
        b = Backend("banner").start()
        self.addCleanup(b.stop)
        s = connect(b.port, 5)
        self.assertEqual(recv_exact(s, 11, 5), b"220 hello\r\n")
        s.close()
        r = Backend("respond_close", request_len=3, response=b"z" * 300000).start()
        self.addCleanup(r.stop)
        s = connect(r.port, 5)
        s.sendall(b"GET")
        data, how = recv_until_closed(s, 5)
        self.assertEqual((len(data), how), (300000, "eof"))
        s.close()

    def test_echo_roundtrip_and_counts(self):
        b = Backend("echo").start()
        self.addCleanup(b.stop)
        socks = [connect(b.port, 5) for _ in range(3)]
        for i, s in enumerate(socks):
            roundtrip(s, b"ping-%d" % i, 5)
        wait_until(lambda: b.active == 3, 5, "3 active")
        for s in socks:
            s.close()
        wait_until(lambda: b.active == 0, 5, "0 active")
        self.assertTrue(b.saw(b"ping-2"))

    def test_blackhole(self):
        bh = Blackhole()
        self.addCleanup(bh.close)
        self.assertTrue(bh.fill(), "backlog technique did not hold a connect pending")
        self.assertTrue(bh.verify())

    def test_log_parse(self):
        rec = logs.parse('2026-12-01T10:00:00.123Z info access route=web client=127.0.0.1:5 '
                         'backend=127.0.0.1:6 client_to_backend=10 backend_to_client=20 '
                         'duration_ms=3 close=client_eof note="a b=c"')
        self.assertEqual(rec.msg, "access")
        self.assertTrue(rec.matches(route="web", client_to_backend=10, close="client_eof"))
        self.assertEqual(rec.fields["note"], "a b=c")
        self.assertIsNone(logs.parse("usage: arus-proxy"))

    def test_config_render(self):
        text = config.render([config.Route("web", ["127.0.0.1:1"], {"retries": 0}, port=20001)])
        self.assertIn("[route:web]\nlisten = 127.0.0.1:20001\nbackend = 127.0.0.1:1\nretries = 0",
                      text)

    def test_env(self):
        self.assertGreaterEqual(env.t(1), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
