"""Relay integrity: many concurrent echo transfers of random payloads through the proxy,
sha256-checked, with and without the client half-closing after it sent everything.
Plain build: 50 connections of 1-8 MB. Slow (sanitizer) build: 16 connections of 256 KB-1 MB."""
import asyncio
import random
import unittest

from harness import ProxyTestCase, echo_transfer, env, wait_until

COUNT = env.pick(50, 16)
MIN_BYTES, MAX_BYTES = env.pick((1 << 20, 8 << 20), (256 << 10, 1 << 20))


class RelayIntegrityTest(ProxyTestCase):
    def _run(self, half_close: bool, seed: int):
        echo = self.backend("echo")
        route = self.route("relay", [echo])
        proxy = self.start_proxy([route])
        port = route.port
        rng = random.Random(seed)
        lengths = [rng.randint(MIN_BYTES, MAX_BYTES) for _ in range(COUNT)]

        async def main():
            return await asyncio.gather(*[
                echo_transfer(port, i, seed * 1000 + i, n, half_close, env.t(90))
                for i, n in enumerate(lengths)])

        results = asyncio.run(main())
        bad = [r.describe() for r in results if not r.ok()]
        self.assertEqual(bad, [], f"seed={seed} half_close={half_close}\n{proxy.tail()}")

        # The backend saw every byte; with half-close, EOF only after all of them.
        wait_until(lambda: echo.accepts == COUNT and echo.active == 0, env.t(10),
                   "all backend connections closed",
                   lambda: f"accepts={echo.accepts} active={echo.active}")
        got = sorted(r.received for r in echo.records)
        self.assertEqual(got, sorted(lengths))
        if half_close:
            self.assertEqual(sorted(r.eof_after for r in echo.records), sorted(lengths))

        # One access line per connection, bytes equal both ways (echo).
        wait_until(lambda: len(proxy.access(route="relay")) >= COUNT, env.t(10),
                   f"{COUNT} access lines", proxy.tail)
        lines = proxy.access(route="relay")
        self.assertEqual(len(lines), COUNT)
        self.assertEqual(sorted(int(a.fields["client_to_backend"]) for a in lines), sorted(lengths))
        self.assertEqual(sorted(int(a.fields["backend_to_client"]) for a in lines), sorted(lengths))

    def test_concurrent_echo_with_half_close(self):
        self._run(half_close=True, seed=101)

    def test_concurrent_echo_without_half_close(self):
        self._run(half_close=False, seed=202)


if __name__ == "__main__":
    unittest.main()
