"""Active health checks against real servers: `redis` (PING -> +PONG) against a real
redis-server stopped and started again, `http` against nginx answering 200 and then 503,
and `send_expect` with PostgreSQL's SSLRequest as documented in docs/operations.md.
Detection times are printed, never asserted."""
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import ProxyTestCase, env, expect_closed, free_port, http, peers, recv_exact, wait_until


class PeerCheckCase(ProxyTestCase):
    def start_checked(self, routes):
        self.stats_port = free_port()
        return self.start_proxy(routes, {"stats_listen": f"127.0.0.1:{self.stats_port}"})

    def up(self, route, backend):
        samples = http.get_metrics(self.stats_port, env.t(5))
        return http.metric(samples, "arus_backend_up", route=route, backend=backend)

    def checks_ok(self, route, backend):
        samples = http.get_metrics(self.stats_port, env.t(5))
        return http.metric(samples, "arus_health_checks_total", route=route, backend=backend,
                           result="ok") or 0

    def wait_checks_ok(self, route, backend, count, what):
        wait_until(lambda: self.checks_ok(route, backend) >= count, env.t(10), what)

    def wait_up(self, route, backend, want, what):
        started = time.monotonic()
        wait_until(lambda: self.up(route, backend) == want, env.t(15), what)
        return time.monotonic() - started


class RedisCheckTest(PeerCheckCase):
    def redis(self, port):
        argv = [peers.redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no"]
        p = peers.PeerProcess(argv, port, os.path.join(self.workdir, "redis.log"),
                              cwd=self.workdir)
        self.addCleanup(p.stop)
        return p.start(timeout=env.t(20))

    def test_redis_stopped_and_started_again(self):
        port = free_port()
        backend = f"127.0.0.1:{port}"
        redis = self.redis(port)
        interval, fall, rise = 200, 2, 2
        route = self.route("cache", [backend], health_check="redis",
                           health_check_interval_ms=interval, health_check_timeout_ms=150,
                           health_check_fall=fall, health_check_rise=rise)
        proxy = self.start_checked([route])
        self.wait_checks_ok("cache", backend, 2, "two passing PING checks")
        s = self.client(route.port)
        s.sendall(b"PING\r\n")
        self.assertEqual(recv_exact(s, 7, env.t(5)), b"+PONG\r\n")
        s.close()

        redis.stop()
        took = self.wait_up("cache", backend, 0, "the stopped redis marked down")
        print(f"\n  redis: down detected in {took * 1000:.0f} ms "
              f"(fall x interval = {fall * interval} ms)")
        proxy.wait_record("backend_down", env.t(5), route="cache", backend=backend)
        # Nothing to try: refused at once, not left waiting on a connect.
        self.assertClosedBy(expect_closed(route.port, env.t(5), send=b"PING\r\n"))
        proxy.wait_access(route="cache", close="no_backend")

        self.redis(port)
        took = self.wait_up("cache", backend, 1, "the restarted redis marked up")
        print(f"  redis: back up in {took * 1000:.0f} ms (rise x interval = {rise * interval} ms)")
        proxy.wait_record("backend_up", env.t(5), route="cache", backend=backend)
        s = self.client(route.port)
        s.sendall(b"PING\r\n")
        self.assertEqual(recv_exact(s, 7, env.t(5)), b"+PONG\r\n")


NGINX_CONF = """\
daemon off;
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/nginx-access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /health {{
            if (-f {dir}/down) {{ return 503; }}
            return 200 "ok\\n";
        }}
        location / {{ return 200 "hello\\n"; }}
    }}
}}
"""


class HttpCheckTest(PeerCheckCase):
    def test_nginx_200_then_503_then_200(self):
        port = free_port()
        backend = f"127.0.0.1:{port}"
        conf = os.path.join(self.workdir, "nginx.conf")
        # Workers of a root master run as `user`: root here, so they can see the flag file.
        user = "user root;" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.workdir, port=port, user=user))
        nginx = peers.PeerProcess([peers.nginx(), "-p", self.workdir, "-c", conf], port,
                                  os.path.join(self.workdir, "nginx.log"))
        self.addCleanup(nginx.stop)
        nginx.start(timeout=env.t(20))

        interval, fall, rise = 200, 2, 2
        route = self.route("app", [backend], health_check="http", health_check_path="/health",
                           health_check_interval_ms=interval, health_check_timeout_ms=150,
                           health_check_fall=fall, health_check_rise=rise)
        proxy = self.start_checked([route])
        self.wait_checks_ok("app", backend, 2, "two passing HTTP checks")
        with open(os.path.join(self.workdir, "nginx-access.log")) as f:
            self.assertIn("GET /health HTTP/1.1", f.read())

        flag = os.path.join(self.workdir, "down")
        open(flag, "w").close()
        took = self.wait_up("app", backend, 0, "nginx answering 503 marked down")
        print(f"\n  http: down detected in {took * 1000:.0f} ms "
              f"(fall x interval = {fall * interval} ms)")
        down = proxy.wait_record("backend_down", env.t(5), route="app", backend=backend)
        self.assertEqual(down.fields.get("reason"), "http status 503", down.raw)

        os.unlink(flag)
        took = self.wait_up("app", backend, 1, "nginx answering 200 again marked up")
        print(f"  http: back up in {took * 1000:.0f} ms (rise x interval = {rise * interval} ms)")
        status, _, body = http.request(route.port, "/", env.t(5))
        self.assertEqual((status, body), (200, b"hello\n"))


# PostgreSQL's SSLRequest: length 8, code 80877103. The server answers one byte, N or S.
SSL_REQUEST = "\\x00\\x00\\x00\\x08\\x04\\xd2\\x16\\x2f"


class PostgresCheckTest(PeerCheckCase):
    def postgres_user(self):
        """(user to run as, or None for ourselves). PostgreSQL refuses to run as root."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            self.fail("running as root needs the postgres user (apt-get install postgresql)")
        return "postgres"

    def test_sslrequest_probe_finds_postgres_up_then_down(self):
        user = self.postgres_user()
        # A folder of its own that the server's user owns (the run folder is root's, 0700).
        home = tempfile.mkdtemp(prefix="arus-e2e-pg-")
        self.addCleanup(shutil.rmtree, home, True)
        if user is not None:
            shutil.chown(home, user)
        data = os.path.join(home, "data")
        initdb = [peers.postgres_tool("initdb"), "-D", data, "-A", "trust", "-U", "postgres"]
        done = subprocess.run(initdb, capture_output=True, user=user, timeout=env.t(120))
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        port = free_port()
        backend = f"127.0.0.1:{port}"
        pg = peers.PeerProcess([peers.postgres_tool("postgres"), "-D", data, "-p", str(port),
                                "-k", home, "-c", "listen_addresses=127.0.0.1"],
                               port, os.path.join(self.workdir, "postgres.log"), user=user)
        self.addCleanup(pg.stop)
        pg.start(timeout=env.t(30))

        route = self.route("pg", [backend], health_check="send_expect",
                           health_check_send=SSL_REQUEST, health_check_expect="N",
                           health_check_interval_ms=200, health_check_timeout_ms=150,
                           health_check_fall=2, health_check_rise=2)
        proxy = self.start_checked([route])
        self.wait_checks_ok("pg", backend, 3, "three passing SSLRequest checks")
        self.assertEqual(self.up("pg", backend), 1)
        # A client through the proxy gets the same answer.
        s = self.client(route.port)
        s.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
        self.assertEqual(recv_exact(s, 1, env.t(5)), b"N")
        s.close()
        # The checks leave without a word: the server logs no error for them.
        with open(pg.log_path, errors="replace") as f:
            log = f.read()
        self.assertNotIn("could not receive data", log)
        self.assertNotIn("incomplete startup packet", log)

        pg.stop()
        took = self.wait_up("pg", backend, 0, "the stopped PostgreSQL marked down")
        print(f"\n  postgres: down detected in {took * 1000:.0f} ms (fall x interval = 400 ms)")
        proxy.wait_record("backend_down", env.t(5), route="pg", backend=backend)


if __name__ == "__main__":
    unittest.main()
