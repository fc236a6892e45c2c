"""Backends by DNS name that follow the name (issue 18): a backend line written as a name
is resolved again every dns_refresh_ms; new connections follow the name's new addresses,
a connection to an address that vanished keeps working, and a failed resolution keeps
the last good addresses with a warning.

The name lives in /etc/hosts, resolved by the system resolver (glibc, "files"), but in a
private copy: the proxy runs in a mount namespace of its own (`unshare -m`, root only)
where this test's hosts file is bind-mounted over /etc/hosts and a one-line
nsswitch.conf ("hosts: files") over /etc/nsswitch.conf, so a name missing from the file
fails at once instead of waiting for a DNS server. The machine's own /etc/hosts is never
written: nothing to restore, even when the test is killed. The name is unique per run.
Skipped when not root, without unshare(1), or when nscd (which would cache answers)
runs."""
import os
import random
import shutil
import signal
import subprocess
import unittest

from harness import ProxyTestCase, config, env, free_port, roundtrip, wait_until
from harness import http
from harness.client import connect

REFRESH_MS = 300
HOSTS_BYTES = 8192  # every version of the file has this size: rewritten in place, never
                    # truncated, so the resolver never reads it half-written or empty


class DnsRefreshTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare(1) for a private /etc/hosts")
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest(f"unshare -m failed: {probe.stderr.decode().strip()}")
        if os.path.exists("/var/run/nscd/socket") or os.path.exists("/run/nscd/socket"):
            self.skipTest("nscd runs: it would cache host names")
        self.name = f"arus-test-{os.getpid()}-{random.randrange(1 << 30)}.dns.test"
        with open("/etc/hosts") as f:
            self.base_hosts = f.read()
        self.hosts = os.path.join(self.workdir, "hosts")
        with open(self.hosts, "w") as f:
            f.write(" " * HOSTS_BYTES)
        self.nsswitch = os.path.join(self.workdir, "nsswitch.conf")
        with open(self.nsswitch, "w") as f:
            f.write("hosts: files\n")
        self.port = free_port()
        self.stats_port = free_port()
        self.backends = {}

    def backend_on(self, host):
        """An echo backend on `host` (127.0.0.x) and the test's one backend port."""
        self.backends[host] = self.backend(host=host, port=self.port)
        return self.backends[host]

    def map_name(self, *addresses):
        """The private /etc/hosts: the machine's own entries, plus the test name on each
        of `addresses` (none: the name is gone). Rewritten in place at a fixed size."""
        text = self.base_hosts.rstrip("\n") + "\n"
        text += "".join(f"{a} {self.name}\n" for a in addresses)
        data = text.encode()
        self.assertLessEqual(len(data), HOSTS_BYTES - 2)
        data += b"#" * (HOSTS_BYTES - len(data) - 1) + b"\n"
        fd = os.open(self.hosts, os.O_WRONLY)
        try:
            os.pwrite(fd, data, 0)
        finally:
            os.close(fd)

    def launch(self, refresh_ms=REFRESH_MS):
        self.backend_line = f"{self.name}:{self.port}"
        self.web = config.Route("web", [self.backend_line],
                                {"dns_refresh_ms": refresh_ms, "balance": "round_robin"})
        path = self.write_config([self.web], {"stats_listen": f"127.0.0.1:{self.stats_port}"})
        self.p = self.proxy(["-c", path], start=False)
        self.p.args = ["unshare", "-m", "sh", "-c",
                       'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/nsswitch.conf'
                       ' && shift && exec "$@"',
                       self.hosts, self.nsswitch] + self.p.args
        self.p.start(timeout=env.t(10))
        return self.p

    def metrics(self):
        return http.get_metrics(self.stats_port, env.t(5))

    def backend_metric(self, name, host, samples=None):
        return http.metric(samples or self.metrics(), name, route="web",
                           backend=self.backend_line, address=f"{host}:{self.port}")

    def echo_once(self, message=b"ping\n"):
        with connect(self.web.port, env.t(5)) as s:
            roundtrip(s, message, env.t(5))

    def accepts(self):
        return {host: b.accepts for host, b in self.backends.items()}

    def wait_generation(self, generation):
        """Until every worker serves `generation` (arus_config_generation says so)."""
        wait_until(lambda: int(http.metric(self.metrics(), "arus_config_generation") or 0)
                   >= generation, env.t(5), f"generation {generation} everywhere", self.p.tail)

    def test_new_connections_follow_the_name_and_old_ones_continue(self):
        for host in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            self.backend_on(host)
        self.map_name("127.0.0.2")
        self.launch()
        long_lived = self.client(self.web.port, env.t(5))
        roundtrip(long_lived, b"first\n", env.t(5))
        self.echo_once()
        self.assertEqual(self.accepts(), {"127.0.0.2": 2, "127.0.0.3": 0, "127.0.0.4": 0})
        self.assertEqual(self.backend_metric("arus_connections_total", "127.0.0.2"), 2)

        mark = self.p.mark()
        self.map_name("127.0.0.4", "127.0.0.3")
        # Within dns_refresh_ms plus a margin for the lookup and the hand-over.
        updated = self.p.wait_record("dns_updated", env.t(REFRESH_MS / 1000 + 3), start=mark,
                                     route="web", backend=self.backend_line)
        print(f"\n    dns_updated: {updated.fields}")
        self.assertEqual(updated.fields["addresses"],
                         f"127.0.0.3:{self.port},127.0.0.4:{self.port}")
        self.assertEqual(updated.fields["removed"], f"127.0.0.2:{self.port}")
        self.wait_generation(int(updated.fields["generation"]))

        for _ in range(8):
            self.echo_once()
        counts = self.accepts()
        self.assertEqual(counts["127.0.0.2"], 2, counts)  # no new connection to the old one
        self.assertGreater(counts["127.0.0.3"], 0, counts)
        self.assertGreater(counts["127.0.0.4"], 0, counts)
        self.assertEqual(counts["127.0.0.3"] + counts["127.0.0.4"], 8, counts)

        # The connection to the vanished address was never cut and still relays.
        roundtrip(long_lived, b"still here\n", env.t(5))
        samples = self.metrics()
        self.assertEqual(self.backend_metric("arus_backend_connections_active", "127.0.0.2",
                                             samples), 1)  # exported while it is busy
        self.assertEqual(self.backend_metric("arus_connections_total", "127.0.0.3", samples)
                         + self.backend_metric("arus_connections_total", "127.0.0.4", samples), 8)
        self.assertGreaterEqual(http.metric(samples, "arus_dns_resolutions_total", route="web",
                                            backend=self.backend_line, result="ok"), 1)
        self.assertEqual(http.metric(samples, "arus_reloads_total", result="ok"), 0)
        stats = http.get_stats(self.stats_port, env.t(5))
        listed = {(b["backend"], b["address"]) for b in stats["routes"][0]["backends"]}
        self.assertIn((self.backend_line, f"127.0.0.3:{self.port}"), listed)
        self.assertIn((self.backend_line, f"127.0.0.4:{self.port}"), listed)

    def test_a_failed_resolution_keeps_the_last_good_addresses(self):
        self.backend_on("127.0.0.2")
        self.map_name("127.0.0.2")
        self.launch()
        self.echo_once()
        mark = self.p.mark()
        self.map_name()  # the name is gone from the file
        failed = self.p.wait_record("dns_failed", env.t(REFRESH_MS / 1000 + 3), start=mark,
                                    route="web", backend=self.backend_line)
        print(f"\n    dns_failed: {failed.fields}")
        self.assertEqual(failed.level, "warn")
        self.assertIn(self.name, failed.fields["error"])
        self.assertEqual(failed.fields["action"], "keeping the last good addresses")
        for _ in range(3):
            self.echo_once()
        self.assertEqual(self.backends["127.0.0.2"].accepts, 4)
        samples = self.metrics()
        self.assertGreaterEqual(http.metric(samples, "arus_dns_resolutions_total", route="web",
                                            backend=self.backend_line, result="error"), 1)
        self.assertEqual(self.backend_metric("arus_backend_up", "127.0.0.2", samples), 1)
        self.assertEqual(self.p.records("dns_updated"), [])

    def test_without_refresh_a_reload_resolves_again(self):
        for host in ("127.0.0.2", "127.0.0.3"):
            self.backend_on(host)
        self.map_name("127.0.0.2")
        self.launch(refresh_ms=0)
        self.echo_once()
        self.map_name("127.0.0.3")
        self.echo_once()  # nothing looks the name up between reloads
        self.assertEqual(self.accepts(), {"127.0.0.2": 2, "127.0.0.3": 0})
        mark = self.p.mark()
        self.p.signal(signal.SIGHUP)
        reloaded = self.p.wait_record("reloaded", env.t(10), start=mark)
        self.wait_generation(int(reloaded.fields["generation"]))
        self.echo_once()
        self.assertEqual(self.accepts(), {"127.0.0.2": 2, "127.0.0.3": 1})
        samples = self.metrics()
        self.assertIsNone(http.metric(samples, "arus_dns_resolutions_total", route="web",
                                      backend=self.backend_line, result="ok"))
        self.assertEqual(self.p.records("dns_updated"), [])

    def test_a_name_that_does_not_resolve_at_start_is_an_error(self):
        self.map_name()
        self.backend_line = f"{self.name}:{self.port}"
        path = self.write_config([config.Route("web", [self.backend_line])])
        p = self.proxy(["-t", "-c", path], start=False)
        p.args = ["unshare", "-m", "sh", "-c",
                  'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/nsswitch.conf'
                  ' && shift && exec "$@"', self.hosts, self.nsswitch] + p.args
        p.start(wait_started=False, timeout=env.t(10))
        self.assertEqual(p.wait_exit(env.t(10)), 1, p.tail())
        self.assertIn(f"backend: cannot resolve '{self.name}'", p.output())


if __name__ == "__main__":
    unittest.main()
