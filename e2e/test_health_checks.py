"""Active health checks (route keys health_check*): a dead or broken backend is found by
the checker before a client finds it, no new client reaches it, and it gets clients again
once `rise` checks pass. connect and send_expect against scripted backends; the hung
backend whose checks time out without piling up sockets; reload keeping the state; a route
with no backend up refusing clients at once (close=no_backend). Detection times are
printed, never asserted."""
import os
import time
import unittest

from harness import (Backend, ProxyTestCase, env, expect_closed, free_port, http, roundtrip,
                     wait_until)


def checks(samples, route, backend, result):
    return http.metric(samples, "arus_health_checks_total", route=route, backend=backend,
                       result=result) or 0


class HealthCheckCase(ProxyTestCase):
    """A proxy with a stats endpoint, and helpers that read the checks' figures."""

    def start_checked(self, routes, **global_options):
        self.stats_port = free_port()
        options = {"stats_listen": f"127.0.0.1:{self.stats_port}"}
        options.update(global_options)
        return self.start_proxy(routes, options)

    def metrics(self):
        return http.get_metrics(self.stats_port, env.t(5))

    def up(self, route, backend):
        return http.metric(self.metrics(), "arus_backend_up", route=route, backend=backend)

    def wait_up(self, route, backend, want, what, timeout=10):
        """Waits for arus_backend_up to be `want`; returns the seconds it took."""
        started = time.monotonic()
        wait_until(lambda: self.up(route, backend) == want, env.t(timeout), what)
        return time.monotonic() - started

    def wait_checks(self, route, backend, result, at_least, timeout=10):
        wait_until(lambda: checks(self.metrics(), route, backend, result) >= at_least,
                   env.t(timeout), f"{at_least} checks {result} of {backend}")

    def health(self, route, backend):
        for r in http.get_stats(self.stats_port, env.t(5))["routes"]:
            if r["name"] == route:
                for b in r["backends"]:
                    if b["address"] == backend:
                        return b["health"]
        raise AssertionError(f"{route}/{backend} not in /stats")


def echoed_through(backend):
    """Client connections (not probes) the scripted backend relayed data for."""
    return sum(1 for r in list(backend.records) if r.probe is False and r.received > 0)


class ConnectCheckTest(HealthCheckCase):
    def test_stopped_backend_goes_down_then_back_up(self):
        interval, fall, rise = 200, 2, 2
        a = self.backend("probe_or_echo")
        b = self.backend("probe_or_echo")
        route = self.route("web", [a, b], health_check="connect",
                           health_check_interval_ms=interval, health_check_timeout_ms=150,
                           health_check_fall=fall, health_check_rise=rise)
        proxy = self.start_checked([route])
        # Checked at once at start, both up.
        self.wait_checks("web", a.address, "ok", 1)
        self.wait_checks("web", b.address, "ok", 1)

        b.stop()
        took = self.wait_up("web", b.address, 0, "the stopped backend marked down")
        print(f"\n  connect: down detected in {took * 1000:.0f} ms "
              f"(fall x interval = {fall * interval} ms)")
        line = proxy.wait_record("backend_down", env.t(5), route="web", backend=b.address)
        self.assertIn("connect", line.fields.get("reason", ""), line.raw)
        self.assertEqual(self.health("web", b.address)["state"], "down")
        self.assertIn("Connection refused", self.health("web", b.address)["last_error"])

        # No new client tries it: every client reaches a, none fails.
        before = echoed_through(a)
        for i in range(20):
            s = self.client(route.port)
            roundtrip(s, b"client-%d\n" % i, env.t(5))
            s.close()
        wait_until(lambda: echoed_through(a) >= before + 20, env.t(5), "20 clients on a")
        failed = [r for r in proxy.access(route="web") if r.fields.get("close") == "connect_failed"]
        self.assertEqual(failed, [], "a client was sent to the down backend")

        # Back on its port: up after `rise` checks, and clients reach it again.
        b2 = Backend("probe_or_echo", port=b.port).start()
        self.addCleanup(b2.stop)
        took = self.wait_up("web", b.address, 1, "the restarted backend marked up")
        print(f"  connect: back up in {took * 1000:.0f} ms (rise x interval = {rise * interval} ms)")
        proxy.wait_record("backend_up", env.t(5), route="web", backend=b.address)

        def b2_gets_clients():
            s = self.client(route.port)
            roundtrip(s, b"again\n", env.t(5))
            s.close()
            return echoed_through(b2) > 0
        wait_until(b2_gets_clients, env.t(10), "a client on the backend that came back")
        changes = http.metric(self.metrics(), "arus_backend_state_changes_total", route="web",
                              backend=b.address)
        self.assertGreaterEqual(changes, 2)  # down and up (more if a slow check flapped it)


class NoBackendUpTest(HealthCheckCase):
    def test_client_is_closed_at_once_with_no_backend(self):
        a = self.backend("probe_or_echo")
        route = self.route("solo", [a], health_check="connect", health_check_interval_ms=100,
                           health_check_timeout_ms=50, health_check_fall=1,
                           health_check_rise=1, connect_timeout_ms=60000)
        proxy = self.start_checked([route])
        self.wait_checks("solo", a.address, "ok", 1)
        a.stop()
        self.wait_up("solo", a.address, 0, "the only backend marked down")
        started = time.monotonic()
        how = expect_closed(route.port, env.t(5), send=b"hello")
        took = time.monotonic() - started
        self.assertClosedBy(how)
        acc = proxy.wait_access(route="solo", close="no_backend")
        self.assertEqual(acc.fields.get("client_to_backend"), "0", acc.raw)
        print(f"\n  no_backend: client closed after {took * 1000:.0f} ms")


class SendExpectCheckTest(HealthCheckCase):
    def test_wrong_reply_marks_down_and_right_reply_brings_it_back(self):
        replies = {"reply": b"OK ready\r\n"}  # longer than expected: still passes
        a = self.backend("probe_or_echo", probe=b"\x00HELLO\r\n", replies=replies)
        spare = self.backend("probe_or_echo", probe=b"\x00HELLO\r\n",
                             replies={"reply": b"OK\r\n"})
        route = self.route("svc", [a, spare], health_check="send_expect",
                           health_check_send="\\x00HELLO\\r\\n", health_check_expect="OK",
                           health_check_interval_ms=100, health_check_timeout_ms=80,
                           health_check_fall=3, health_check_rise=2)
        proxy = self.start_checked([route])
        self.wait_checks("svc", a.address, "ok", 2)
        self.assertTrue(any(r.probe for r in list(a.records)), "the probe bytes never arrived")

        replies["reply"] = b"NO\r\n"
        took = self.wait_up("svc", a.address, 0, "a backend answering NO marked down")
        print(f"\n  send_expect: down detected in {took * 1000:.0f} ms (fall x interval = 300 ms)")
        down = proxy.wait_record("backend_down", env.t(5), route="svc", backend=a.address)
        self.assertEqual(down.fields.get("reason"), "unexpected reply", down.raw)
        health = self.health("svc", a.address)
        self.assertEqual(health["last_error"], "unexpected reply")
        self.assertGreaterEqual(health["checks_failed"], 3)

        before = echoed_through(a)
        for i in range(10):
            s = self.client(route.port)
            roundtrip(s, b"x%d\n" % i, env.t(5))
            s.close()
        self.assertEqual(echoed_through(a), before, "a client reached the down backend")

        replies["reply"] = b"OK\r\n"
        took = self.wait_up("svc", a.address, 1, "a backend answering OK again marked up")
        print(f"  send_expect: back up in {took * 1000:.0f} ms (rise x interval = 200 ms)")


class HungBackendTest(HealthCheckCase):
    def test_checks_time_out_and_sockets_do_not_pile_up(self):
        hung = self.backend("hold")  # accepts, never answers
        route = self.route("hung", [hung], health_check="send_expect",
                           health_check_send="PING\\r\\n", health_check_expect="+PONG",
                           health_check_interval_ms=100, health_check_timeout_ms=50,
                           health_check_fall=2, health_check_rise=2)
        proxy = self.start_checked([route])
        self.wait_up("hung", hung.address, 0, "the hung backend marked down")
        down = proxy.wait_record("backend_down", env.t(5), route="hung", backend=hung.address)
        self.assertEqual(down.fields.get("reason"), "timed out waiting for the reply", down.raw)

        def fds():
            return len(os.listdir(f"/proc/{proxy.pid}/fd"))
        fds_before = fds()
        failed_before = checks(self.metrics(), "hung", hung.address, "fail")
        self.wait_checks("hung", hung.address, "fail", failed_before + 100, timeout=60)
        fds_after = fds()
        print(f"\n  hung backend: {fds_before} fds before, {fds_after} after 100 more checks")
        # At most the one check in flight at either moment.
        self.assertLessEqual(fds_after, fds_before + 1)


class ReloadKeepsHealthTest(HealthCheckCase):
    def test_state_survives_new_backend_checked_at_once_removed_one_stops(self):
        replies = {"reply": b"NO\r\n"}
        broken = self.backend("probe_or_echo", replies=replies)
        good = self.backend("probe_or_echo")
        added = self.backend("probe_or_echo")
        options = dict(health_check="send_expect", health_check_send="PING\\r\\n",
                       health_check_expect="+OK", health_check_interval_ms=200,
                       health_check_timeout_ms=150, health_check_fall=2, health_check_rise=50)
        route = self.route("r", [broken, good], **options)
        proxy = self.start_checked([route])
        self.wait_up("r", broken.address, 0, "the broken backend marked down")
        replies["reply"] = b"+OK\r\n"  # now passing, but rise = 50 keeps it down for a while
        self.wait_checks("r", broken.address, "ok", 1)
        ok_before = checks(self.metrics(), "r", broken.address, "ok")

        route.backends = [broken.address, added.address]  # good removed, added added
        route.options["health_check_rise"] = 40
        self.write_config([route], {"stats_listen": f"127.0.0.1:{self.stats_port}"})
        proxy.wait_record("reloaded", env.t(10))
        # Kept: still down, counters kept (not back to 0).
        self.assertEqual(self.up("r", broken.address), 0)
        self.assertGreaterEqual(checks(self.metrics(), "r", broken.address, "ok"), ok_before)
        # Added: checked at once, up.
        self.wait_checks("r", added.address, "ok", 1)
        self.assertEqual(self.up("r", added.address), 1)
        # Removed: no more checks reach it, while three more intervals of checks reach the
        # added one (at most one check of it was already in flight at the reload).
        def probes():
            return sum(1 for r in list(good.records) if r.probe)
        settled = probes()
        added_ok = checks(self.metrics(), "r", added.address, "ok")
        self.wait_checks("r", added.address, "ok", added_ok + 3)
        self.assertLessEqual(probes(), settled + 1, "the removed backend is still checked")


if __name__ == "__main__":
    unittest.main()


class SendProxyCheckTest(HealthCheckCase):
    def test_checks_start_with_a_local_header_on_a_send_proxy_route(self):
        # An echo backend returns what the check sent: the reply starts with the PROXY v2
        # LOCAL header only when the check wrote one before its own bytes.
        echo = self.backend("echo")
        local_v2 = r"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
        route = self.route("pp", [echo], send_proxy="v2", health_check="send_expect",
                           health_check_send="PING", health_check_expect=local_v2 + "PING",
                           health_check_interval_ms=100, health_check_timeout_ms=90)
        self.start_checked([route])
        self.wait_checks("pp", echo.address, "ok", 3)
        self.assertEqual(checks(self.metrics(), "pp", echo.address, "fail"), 0)
