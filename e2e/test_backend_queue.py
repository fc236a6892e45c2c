"""Per-backend max_connections and the route's backend queue: a backend never sees more
than its cap; the clients over it wait first in, first out (their bytes stay in the
kernel) and are connected as slots free; queue_timeout_ms = 0 refuses at once."""
import signal
import socket
import unittest

from harness import (ProxyTestCase, env, expect_closed, free_port, http, recv_until_closed,
                     roundtrip, wait_until)

CAP = 10


class BackendQueueTest(ProxyTestCase):
    def _start(self, backend, cap, queue_timeout_ms, workers=2, **options):
        self.stats_port = free_port()
        route = self.route("db", [f"{backend.address} max_connections={cap}"],
                           queue_timeout_ms=queue_timeout_ms, **options)
        proxy = self.start_proxy([route], {"stats_listen": f"127.0.0.1:{self.stats_port}",
                                           "workers": workers})
        return route, proxy

    def _route_stats(self):
        return http.get_stats(self.stats_port, env.t(5))["routes"][0]

    def _queue_length(self):
        return self._route_stats()["queue_length"]

    def _hold(self, route, n):
        socks = []
        for i in range(n):
            s = self.client(route.port)
            roundtrip(s, b"held-%d\n" % i, env.t(5))
            socks.append(s)
        return socks

    def test_clients_over_the_cap_wait_in_arrival_order(self):
        """One worker: slots are granted and connects made in one order, so the backend
        sees the clients exactly in the order they arrived."""
        order = self._serve_many(workers=1)
        self.assertEqual(order[CAP:], list(range(CAP, len(order))), "queued clients out of order")

    def test_slots_freed_on_another_worker_wake_the_queue(self):
        """Two workers: a connection closing on one hands its slot to a client queued on
        the other. Slots are granted in arrival order; the connects then run on two
        threads, so the backend may see neighbours swapped (measured, not asserted)."""
        order = self._serve_many(workers=2)
        displacement = max(abs(position - i) for position, i in enumerate(order))
        swapped = sum(1 for position, i in enumerate(order) if position != i)
        print(f"  two workers: {swapped} of {len(order)} clients off their place at the "
              f"backend, at most {displacement} places")

    def _serve_many(self, workers):
        clients = env.pick(200, 60)
        echo = self.backend("echo")
        route, proxy = self._start(echo, CAP, int(env.t(120) * 1000), workers=workers)
        socks = []
        for i in range(clients):
            s = self.client(route.port, timeout=env.t(120))
            s.sendall(b"client-%05d\n" % i)  # stays in the kernel while it waits
            socks.append(s)
            # One at a time into the proxy, so arrival order is the order of this loop.
            wait_until(lambda: echo.accepts + self._queue_length() == i + 1, env.t(10),
                       f"client {i} connected or queued")
        self.assertEqual(echo.accepts, CAP)
        self.assertEqual(self._queue_length(), clients - CAP)
        stats = self._route_stats()
        self.assertEqual(stats["backends"][0]["max_connections"], CAP)
        # Let every client finish: each slot freed goes to the head of the queue.
        for s in socks:
            s.shutdown(socket.SHUT_WR)
        failures = []
        for i, s in enumerate(socks):
            data, how = recv_until_closed(s, env.t(120))
            if data != b"client-%05d\n" % i:
                failures.append(f"client {i}: got {data!r} ({how})")
        self.assertEqual(failures, [])
        wait_until(lambda: echo.active == 0, env.t(10), "backend connections closed")
        print(f"\n  {clients} clients, cap {CAP}: backend saw at most {echo.max_active} at once")
        self.assertLessEqual(echo.max_active, CAP)
        self.assertEqual(echo.accepts, clients)
        samples = http.get_metrics(self.stats_port, env.t(5))
        self.assertEqual(http.metric(samples, "arus_queue_length", route="db"), 0)
        self.assertEqual(http.metric(samples, "arus_queue_timeouts_total", route="db"), 0)
        order = [int(bytes(r.head).split(b"-")[1]) for r in echo.records]
        self.assertEqual(sorted(order), list(range(clients)))
        self.assertEqual(sorted(order[:CAP]), list(range(CAP)))
        return order

    def test_no_queue_refuses_the_one_over_the_cap_at_once(self):
        echo = self.backend("echo")
        route, proxy = self._start(echo, CAP, 0)
        held = self._hold(route, CAP)
        mark = proxy.mark()
        self.assertIn(expect_closed(route.port, env.t(5), send=b"OVER"), ("eof", "reset"))
        acc = proxy.wait_access(route="db", close="limit", start=mark)
        self.assertEqual(acc.fields.get("client_to_backend"), "0", acc.raw)
        self.assertEqual(echo.accepts, CAP)
        self.assertFalse(echo.saw(b"OVER"))
        samples = http.get_metrics(self.stats_port, env.t(5))
        self.assertEqual(
            http.metric(samples, "arus_refused_total", route="db", reason="backend_limit"), 1)
        held[0].close()
        wait_until(lambda: echo.active == CAP - 1, env.t(5), "a slot freed")
        s = self.client(route.port)
        roundtrip(s, b"after\n", env.t(5))

    def test_queue_timeout_closes_the_waiting_client(self):
        echo = self.backend("echo")
        route, proxy = self._start(echo, 1, 300)
        self._hold(route, 1)
        mark = proxy.mark()
        s = self.client(route.port, timeout=env.t(10))
        s.sendall(b"WAITING")
        _, how = recv_until_closed(s, env.t(10))
        self.assertIn(how, ("eof", "reset"))
        acc = proxy.wait_access(route="db", close="queue_timeout", start=mark)
        self.assertEqual(acc.fields.get("client_to_backend"), "0", acc.raw)
        self.assertFalse(echo.saw(b"WAITING"))
        samples = http.get_metrics(self.stats_port, env.t(5))
        self.assertEqual(http.metric(samples, "arus_queue_timeouts_total", route="db"), 1)
        self.assertEqual(http.metric(samples, "arus_queue_length", route="db"), 0)

    def test_reload_keeps_the_queue_and_applies_a_raised_cap(self):
        echo = self.backend("echo")
        route, proxy = self._start(echo, 1, int(env.t(60) * 1000))
        self._hold(route, 1)
        waiting = self.client(route.port, timeout=env.t(30))
        waiting.sendall(b"queued\n")
        wait_until(lambda: self._queue_length() == 1, env.t(10), "client queued")
        route.backends = [f"{echo.address} max_connections=2"]
        mark = proxy.mark()
        self.write_config([route], {"stats_listen": f"127.0.0.1:{self.stats_port}"})
        proxy.signal(signal.SIGHUP)
        proxy.wait_record("reloaded", env.t(10), start=mark)
        wait_until(lambda: echo.saw(b"queued\n"), env.t(10), "queued client connected")
        self.assertEqual(self._queue_length(), 0)
        self.assertEqual(self._route_stats()["backends"][0]["max_connections"], 2)

    def test_drain_closes_queued_clients_at_once(self):
        echo = self.backend("echo")
        route, proxy = self._start(echo, 1, int(env.t(60) * 1000))
        held = self._hold(route, 1)
        waiting = self.client(route.port, timeout=env.t(10))
        wait_until(lambda: self._queue_length() == 1, env.t(10), "client queued")
        mark = proxy.mark()
        proxy.signal(signal.SIGTERM)
        _, how = recv_until_closed(waiting, env.t(5))
        self.assertIn(how, ("eof", "reset"))
        proxy.wait_access(route="db", close="shutdown", start=mark)
        roundtrip(held[0], b"still-served\n", env.t(5))  # the connected one keeps going
        held[0].close()
        self.assertEqual(proxy.wait_exit(env.t(10)), 0)


if __name__ == "__main__":
    unittest.main()
