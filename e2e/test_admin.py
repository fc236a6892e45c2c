"""The admin API (SPEC "Admin API and reload plan"): POST /reload and its dry run, backend
drain / disable / enable / weight surviving reloads, watch_config = off, the admin
listener's security (unix socket mode and owner, loopback only, its paths never on the
stats listener, bad requests 400 without harming relaying)."""
import os
import socket
import stat
import subprocess
import unittest

from harness import (ProxyTestCase, env, free_port, recv_exact, recv_until_closed, roundtrip,
                     wait_until)
from harness import http
from harness.proxy import child_env


class AdminCase(ProxyTestCase):
    def launch(self, routes, **global_extra):
        self.admin_port = free_port()
        self.stats_port = free_port()
        self.global_options = {"admin_listen": f"127.0.0.1:{self.admin_port}",
                               "stats_listen": f"127.0.0.1:{self.stats_port}",
                               "watch_config": "off", **global_extra}
        self.routes = routes
        self.config_path = self.write_config(routes, self.global_options)
        return self.proxy(["-c", self.config_path])

    def rewrite(self, routes, **global_extra):
        options = {**self.global_options, **global_extra}
        self.write_config(routes, options)

    def admin(self, method, path, body=None):
        return http.admin(self.admin_port, method, path, env.t(10), body)

    def stats(self):
        return http.get_stats(self.stats_port, env.t(5))

    def backend_stats(self, route, address):
        for r in self.stats()["routes"]:
            if r["name"] == route:
                for b in r["backends"]:
                    if b["address"] == address:
                        return b
        raise AssertionError(f"no backend {address} in route {route} in /stats")

    def connect_and_echo(self, port, n, marker=b"ping"):
        """n new connections, each one round trip; returns them open."""
        conns = []
        for _ in range(n):
            s = self.client(port, env.t(5))
            roundtrip(s, marker, env.t(5))
            conns.append(s)
        return conns


class AdminReloadTest(AdminCase):
    def test_reload_answers_the_generation_and_plan(self):
        echo = self.backend("echo")
        web = self.route("web", [echo])
        self.launch([web])
        db = self.route("db", [echo])
        self.rewrite([web, db])
        status, answer = self.admin("POST", "/reload")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["result"], "ok")
        self.assertEqual(answer["generation"], 2)
        self.assertEqual(answer["plan"]["routes"]["added"], ["db"])
        self.assertEqual(answer["plan"]["listeners"]["bound"], [db.listen])
        # Synchronous: the new route serves once the answer is out.
        roundtrip(self.client(db.port), b"new route", env.t(5))
        self.assertEqual(self.stats()["generation"], 2)

    def test_reload_with_a_broken_file_changes_nothing(self):
        echo = self.backend("echo")
        web = self.route("web", [echo])
        p = self.launch([web])
        with open(self.config_path, "a") as f:
            f.write("[route:bad]\nlisten = 127.0.0.1:1\nbackend = 127.0.0.1:70000\n")
        status, answer = self.admin("POST", "/reload")
        self.assertEqual(status, 422, answer)
        self.assertEqual(answer["result"], "error")
        self.assertRegex(answer["error"], r"proxy\.conf:\d+: \[route:bad\] backend: ")
        self.assertEqual(self.stats()["generation"], 1)
        self.assertEqual(self.stats()["reloads"]["error"], 1)
        roundtrip(self.client(web.port), b"still serving", env.t(5))
        self.assertTrue(p.running())

    def test_dry_run_changes_nothing(self):
        echo = self.backend("echo")
        web = self.route("web", [echo])
        self.launch([web])
        held = self.connect_and_echo(web.port, 2)
        web2 = self.route("web", [echo, "127.0.0.1:9"])
        web2.port = web.port
        self.rewrite([web2])
        status, answer = self.admin("POST", "/reload?dry_run=1")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["generation"], 1)
        plan = answer["plan"]
        self.assertEqual(plan["backends"]["added"], [{"route": "web", "backend": "127.0.0.1:9"}])
        self.assertEqual(plan["connections_staying_on_old_generation"], {"web": 2})
        # The body as the configuration text, compared with the running one.
        text = http_text = open(self.config_path).read().replace("[route:web]", "[route:www]")
        status, answer = self.admin("POST", "/reload?dry_run=1", http_text)
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["plan"]["routes"]["added"], ["www"])
        self.assertEqual(answer["plan"]["routes"]["removed"], ["web"])
        status, answer = self.admin("POST", "/reload?dry_run=1", text + "bogus = 1\n")
        self.assertEqual(status, 422, answer)
        self.assertRegex(answer["error"], r"proxy\.conf:\d+: \[route:www\] bogus: unknown key")
        self.assertEqual(self.stats()["generation"], 1)
        self.assertEqual(self.stats()["reloads"], {"ok": 0, "error": 0})
        for s in held:
            roundtrip(s, b"held", env.t(5))

    def test_watch_config_off_waits_for_a_request(self):
        echo = self.backend("echo")
        web = self.route("web", [echo])
        p = self.launch([web])
        db = self.route("db", [echo])
        mark = p.mark()
        self.rewrite([web, db])
        # A SIGHUP after the write is a marker: once its reload is announced, the file
        # event (which comes first) has been handled, and it must not have reloaded.
        p.signal(__import__("signal").SIGHUP)
        p.wait_contains("trigger=SIGHUP", env.t(10), start=mark)
        reloads = [l for l in p.lines()[mark:] if " info reloaded " in l]
        self.assertEqual(len(reloads), 1, reloads)
        self.assertIn("trigger=SIGHUP", reloads[0])


class AdminBackendTest(AdminCase):
    def test_drain_keeps_open_connections_and_takes_no_new_ones(self):
        a, b = self.backend("echo"), self.backend("echo")
        web = self.route("web", [a, b])
        self.launch([web], workers=2)
        # Open connections until 20 of them are on a.
        on_a = []
        deadline = env.t(30)
        wait_until(lambda: (on_a.extend(self.connect_and_echo(web.port, 1))
                            or a.accepts >= 20), deadline, "20 connections on backend a")
        long_on_a = a.accepts
        status, answer = self.admin("POST", f"/routes/web/backends/{a.address}/drain")
        self.assertEqual((status, answer["admin_state"]), (200, "drain"), answer)
        self.assertEqual(self.backend_stats("web", a.address)["admin_state"], "drain")
        before_b = b.accepts
        fresh = self.connect_and_echo(web.port, 20, b"fresh")
        self.assertEqual(a.accepts, long_on_a, "a drained backend got a new client")
        self.assertEqual(b.accepts, before_b + 20)
        for s in on_a:  # every long connection still relays and ends cleanly
            roundtrip(s, b"still", env.t(5))
            s.shutdown(socket.SHUT_WR)
        for s in on_a:
            data, how = recv_until_closed(s, env.t(10))
            self.assertEqual((data, how), (b"", "eof"))
        wait_until(lambda: self.backend_stats("web", a.address)["connections_active"] == 0,
                   env.t(10), "the drained backend's connections to finish")
        self.assertEqual(a.accepts, long_on_a)
        for s in fresh:
            s.close()

    def test_disable_then_enable(self):
        a, b = self.backend("echo"), self.backend("echo")
        web = self.route("web", [a, b])
        self.launch([web])
        status, answer = self.admin("POST", f"/routes/web/backends/{a.address}/disable")
        self.assertEqual((status, answer["admin_state"]), (200, "disabled"))
        self.connect_and_echo(web.port, 10)
        self.assertEqual(a.accepts, 0)
        status, answer = self.admin("POST", f"/routes/web/backends/{a.address}/enable")
        self.assertEqual((status, answer["admin_state"]), (200, "ready"))
        self.connect_and_echo(web.port, 10)
        self.assertGreater(a.accepts, 0)
        self.assertEqual(self.backend_stats("web", a.address)["admin_state"], "ready")

    def test_weight_changes_the_distribution(self):
        a, b = self.backend("echo"), self.backend("echo")
        web = self.route("web", [a, b])
        self.launch([web])
        status, answer = self.admin("POST", f"/routes/web/backends/{a.address}/weight",
                                    {"weight": 3})
        self.assertEqual((status, answer["weight"]), (200, 3), answer)
        self.assertEqual(self.backend_stats("web", a.address)["weight"], 3)
        for s in self.connect_and_echo(web.port, 200):
            s.close()
        print(f"\n  weight 3:1 -> a={a.accepts} b={b.accepts} of 200")
        self.assertEqual(a.accepts + b.accepts, 200)
        # Smooth round robin per worker: 3:1 within a few connections per worker.
        self.assertGreaterEqual(a.accepts, 140)
        for bad in ({"weight": 257}, {"weight": -1}, "not json", {"w": 1}, ""):
            status, answer = self.admin("POST", f"/routes/web/backends/{a.address}/weight", bad)
            self.assertEqual(status, 400, (bad, answer))

    def test_unknown_route_or_backend_is_404(self):
        echo = self.backend("echo")
        self.launch([self.route("web", [echo])])
        self.assertEqual(self.admin("POST", f"/routes/nope/backends/{echo.address}/drain")[0], 404)
        self.assertEqual(self.admin("POST", "/routes/web/backends/127.0.0.1:1/drain")[0], 404)

    def test_admin_state_survives_a_reload(self):
        a, b = self.backend("echo"), self.backend("echo")
        web = self.route("web", [a, b])
        self.launch([web])
        self.admin("POST", f"/routes/web/backends/{a.address}/drain")
        self.admin("POST", f"/routes/web/backends/{b.address}/weight", {"weight": 7})
        web2 = self.route("web", [a, b], retries=1)
        web2.port = web.port
        self.rewrite([web2])
        status, answer = self.admin("POST", "/reload")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["plan"]["routes"]["changed"], [{"name": "web", "keys": ["retries"]}])
        self.assertEqual(self.backend_stats("web", a.address)["admin_state"], "drain")
        self.assertEqual(self.backend_stats("web", b.address)["weight"], 7)
        self.connect_and_echo(web.port, 6)
        self.assertEqual(a.accepts, 0)
        # Removed then added back: a new backend, ready.
        web3 = self.route("web", [b])
        web3.port = web.port
        self.rewrite([web3])
        self.assertEqual(self.admin("POST", "/reload")[0], 200)
        self.rewrite([web])
        self.assertEqual(self.admin("POST", "/reload")[0], 200)
        self.assertEqual(self.backend_stats("web", a.address)["admin_state"], "ready")


class AdminSecurityTest(AdminCase):
    def test_unix_socket_mode_owner_and_removal(self):
        echo = self.backend("echo")
        web = self.route("web", [echo])
        path = os.path.join(self.workdir, "admin.sock")
        config = self.write_config([web], {"admin_listen": "unix:admin.sock"})
        p = self.proxy(["-c", config])
        st = os.stat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.geteuid())
        status, answer = http.admin(path, "POST", f"/routes/web/backends/{echo.address}/drain",
                                    env.t(5))
        self.assertEqual(status, 200, answer)
        self.assertEqual(p.stop(env.t(10))[0], 0)
        self.assertFalse(os.path.exists(path), "the admin socket outlived the proxy")

    def test_non_loopback_admin_listen_is_refused_by_t(self):
        web = self.route("web", ["127.0.0.1:9"])
        for value, reason in (("0.0.0.0:9999", "not a loopback address"),
                              ("10.1.2.3:9999", "not a loopback address"),
                              ("unix:", "empty path")):
            with self.subTest(value=value):
                config = self.write_config([web], {"admin_listen": value})
                p = subprocess.run([env.BIN, "-t", "-c", config], capture_output=True,
                                   env=child_env(), timeout=env.t(10))
                err = p.stderr.decode()
                self.assertEqual(p.returncode, 1, err)
                self.assertRegex(err, r"proxy\.conf:\d+: \[global\] admin_listen: .*" + reason)

    def test_admin_paths_are_404_on_the_stats_listener(self):
        echo = self.backend("echo")
        self.launch([self.route("web", [echo])])
        for method, path in (("POST", "/reload"), ("GET", "/connections"),
                             ("POST", f"/routes/web/backends/{echo.address}/drain")):
            status, _, _ = http.request(self.stats_port, path, env.t(5), method=method)
            self.assertEqual(status, 404, path)
        # And the stats pages are not on the admin listener.
        self.assertEqual(self.admin("GET", "/metrics")[0], 404)
        self.assertEqual(self.admin("GET", "/reload")[0], 405)
        self.assertEqual(self.admin("POST", "/nothing")[0], 404)
        self.assertEqual(self.stats()["routes"][0]["backends"][0]["admin_state"], "ready")

    def test_garbage_and_oversized_requests_are_refused_and_relaying_goes_on(self):
        echo = self.backend("echo")
        web = self.route("web", [echo])
        p = self.launch([web])
        held = self.connect_and_echo(web.port, 1)
        cases = [b"\x00\x01garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"POST /reload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b"POST /reload?dry_run=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999\r\n\r\n",
                 b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"]
        for raw in cases:
            with self.subTest(raw=raw[:40]):
                status, _, _ = http.request(self.admin_port, "/", env.t(5), raw=raw)
                self.assertTrue(400 <= status < 500 or status == 505, (status, raw[:40]))
        status, _, _ = http.request(self.admin_port, "/", env.t(5), raw=cases[0])
        self.assertEqual(status, 400)
        roundtrip(held[0], b"unharmed", env.t(5))
        roundtrip(self.client(web.port), b"new", env.t(5))
        self.assertTrue(p.running())


if __name__ == "__main__":
    unittest.main()


class AdminConnectionsTest(AdminCase):
    def listed(self):
        status, answer = self.admin("GET", "/connections")
        self.assertEqual(status, 200, answer)
        return answer["connections"]

    def test_lists_exactly_the_open_connections_and_closes_one(self):
        echo = self.backend("echo")
        web = self.route("web", [echo])
        p = self.launch([web])
        old = self.connect_and_echo(web.port, 2, b"12345")
        web2 = self.route("web", [echo], retries=1)
        web2.port = web.port
        self.rewrite([web2])
        status, answer = self.admin("POST", "/reload")
        self.assertEqual((status, answer["generation"]), (200, 2), answer)
        new = self.connect_and_echo(web.port, 1, b"123")
        conns = {s.getsockname()[1]: s for s in old + new}

        def all_counted():
            listed = self.listed()
            return len(listed) == 3 and all(c["bytes"]["backend_to_client"] > 0 for c in listed)
        wait_until(all_counted, env.t(10), "3 connections listed with their bytes")
        listed = self.listed()
        self.assertEqual(len({c["id"] for c in listed}), 3, "ids must be unique")
        by_port = {int(c["client"].rsplit(":", 1)[1]): c for c in listed}
        self.assertEqual(set(by_port), set(conns))
        for s in old:
            c = by_port[s.getsockname()[1]]
            self.assertEqual((c["generation"], c["bytes"]["client_to_backend"]), (1, 5), c)
        c = by_port[new[0].getsockname()[1]]
        self.assertEqual((c["generation"], c["bytes"]["client_to_backend"]), (2, 3), c)
        for c in listed:
            self.assertEqual((c["route"], c["backend"], c["path"]), ("web", echo.address, "splice"))
            self.assertGreaterEqual(c["age_ms"], c["idle_ms"])

        victim = by_port[old[0].getsockname()[1]]
        status, answer = self.admin("POST", f"/connections/{victim['id']}/close")
        self.assertEqual(status, 200, answer)
        old[0].settimeout(env.t(5))
        self.assertEqual(old[0].recv(16), b"", "the closed connection did not end")
        p.wait_record("access", env.t(5), close="admin")
        wait_until(lambda: len(self.listed()) == 2, env.t(5), "the closed one gone from the list")
        self.assertEqual(len(p.access(close="admin")), 1)
        for s in old[1:] + new:
            roundtrip(s, b"alive", env.t(5))
        self.assertEqual(self.admin("POST", f"/connections/{victim['id']}/close")[0], 404)
        self.assertEqual(self.admin("POST", "/connections/99999999999999999/close")[0], 404)

    def test_a_filtered_connection_shows_its_path(self):
        echo = self.backend("echo")
        web = self.route("web", [echo], filter="filter.so", filter_args="upper")
        self.launch([web])
        s = self.client(web.port)
        s.sendall(b"abc")
        self.assertEqual(recv_exact(s, 3, env.t(5)), b"ABC")
        listed = self.listed()
        self.assertEqual([c["path"] for c in listed], ["filter"])


class AdminIdleFloodTest(AdminCase):
    def test_a_thousand_idle_admin_connections_block_nothing(self):
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1200
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.skipTest(f"descriptor limit {hard} below {want}")
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        echo = self.backend("echo")
        web = self.route("web", [echo])
        p = self.launch([web])
        idle = []
        try:
            for _ in range(1000):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", self.admin_port))
                idle.append(s)
            # The stats listener, the data path and the admin API itself still answer.
            status, _, body = http.request(self.stats_port, "/healthz", env.t(10))
            self.assertEqual((status, body), (200, b"ok\n"))
            roundtrip(self.client(web.port), b"data path", env.t(10))
            status, answer = self.admin("GET", "/connections")
            self.assertEqual(status, 200, answer)
            self.assertTrue(p.running())
        finally:
            for s in idle:
                s.close()
