"""Many simultaneous connections: 2,000 clients open at once through the proxy, each
verified by an echo, all held until every one is established end to end, then all closed
cleanly. The same count on sanitizer builds (it stays within seconds there too)."""
import asyncio
import resource
import unittest

from harness import ProxyTestCase, env, wait_until

COUNT = 2000
CONNECT_PARALLEL = 200


class ConcurrentConnectionsTest(ProxyTestCase):
    def test_many_concurrent_connections(self):
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        # Our side holds a client and a backend socket per connection.
        if soft < 2 * COUNT + 200:
            self.skipTest(f"RLIMIT_NOFILE {soft} too low for {COUNT} connections")
        echo = self.backend("echo")
        route = self.route("many", [echo], connect_timeout_ms=int(env.t(10) * 1000))
        proxy = self.start_proxy([route])
        established = 0
        peak = {}
        all_up = None
        gate = None

        async def one(i):
            nonlocal established
            async with gate:
                reader, writer = await asyncio.open_connection("127.0.0.1", route.port)
                msg = b"conn-%05d\n" % i
                writer.write(msg)
                await writer.drain()
                got = await reader.readexactly(len(msg))
                if got != msg:
                    raise AssertionError(f"conn {i}: echo {got!r} != {msg!r}")
            established += 1
            if established == COUNT:
                # Nobody has sent EOF yet: every backend connection must be open now.
                peak["active"] = echo.active
                all_up.set()
            await all_up.wait()
            writer.write_eof()
            rest = await reader.read()
            writer.close()
            await writer.wait_closed()
            if rest:
                raise AssertionError(f"conn {i}: unexpected bytes {rest[:40]!r}")

        async def main():
            nonlocal all_up, gate
            all_up = asyncio.Event()
            gate = asyncio.Semaphore(CONNECT_PARALLEL)
            tasks = [asyncio.create_task(one(i)) for i in range(COUNT)]
            done, pending = await asyncio.wait(tasks, timeout=env.t(90))
            for t in pending:
                t.cancel()
            errors = [t.exception() for t in done if t.exception()]
            return len(pending), errors[:5]

        pending, errors = asyncio.run(main())
        self.assertEqual(errors, [], proxy.tail())
        self.assertEqual(pending, 0, f"{pending} connections still pending; "
                         f"established={established}\n{proxy.tail()}")
        # When the last echo came back, every backend connection was open at once.
        self.assertEqual(peak.get("active"), COUNT, "not all connections were open at once")
        self.assertEqual(echo.accepts, COUNT)
        wait_until(lambda: echo.active == 0, env.t(20), "backend connections to close",
                   lambda: f"active={echo.active}")
        wait_until(lambda: len(proxy.access(route="many")) >= COUNT, env.t(20),
                   f"{COUNT} access lines", proxy.tail)
        reasons = {a.fields.get("close") for a in proxy.access(route="many")}
        self.assertTrue(reasons <= {"client_eof", "backend_eof"}, reasons)


if __name__ == "__main__":
    unittest.main()
