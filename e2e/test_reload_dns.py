"""Reload and slow name resolution (issue 12 item 8): a reload whose backend is a DNS name
that does not answer keeps /healthz and signals served while it waits, fails after its
bound naming the file, line and name, and succeeds when the answer comes late.

The proxy runs in a mount namespace of its own (`unshare -m`, root only) where
/etc/resolv.conf names a random 127.53.X.Y, port 53 (any 127/8 address is loopback, so
concurrent runs do not meet), on which this test's UDP socket receives the queries and
answers them late or never. glibc reads its servers from that file only (no
environment variable names one), so this is how the test controls the resolver. Skipped
when the namespace, the bind mount or port 53 is unavailable."""
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

from harness import Deadline, config, env, http, wait_until
from test_reload_triggers import ReloadCase

SLOW_NAME = "backend.arus-e2e.test"
# glibc would wait this long itself; the proxy's bound (5 s) must end the wait first.
RESOLV_CONF = "nameserver {address}\noptions timeout:30 attempts:1\n"


class FakeDns:
    """A DNS server on 127.53.X.Y:53 that records every query and answers A queries with
    127.0.0.1 (AAAA with no address) only once `answer()` was called, else never."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for attempt in range(20):
            self.address = f"127.53.{random.randrange(256)}.{random.randrange(1, 255)}"
            try:
                self.sock.bind((self.address, 53))
                break
            except OSError:
                if attempt == 19:
                    self.sock.close()
                    raise
        self.sock.settimeout(0.05)
        self.queries = []  # (name, qtype) of each query received
        self.held = []     # (packet, peer) not answered yet
        self._answering = False
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="fake-dns", daemon=True)
        self._thread.start()

    def answer(self):
        with self._lock:
            self._answering = True

    def asked(self, name) -> bool:
        return self.count(name) > 0

    def count(self, name, qtype=1) -> int:
        """Queries for `name` of this type (1: A) so far: one per lookup."""
        with self._lock:
            return sum(1 for q in self.queries if q == (name, qtype))

    def close(self):
        self._stop = True
        self._thread.join()
        self.sock.close()

    def _run(self):
        while not self._stop:
            try:
                packet, peer = self.sock.recvfrom(4096)
                with self._lock:
                    self.queries.append(self._question(packet))
                    self.held.append((packet, peer))
            except socket.timeout:
                pass
            with self._lock:
                if not self._answering:
                    continue
                held, self.held = self.held, []
            for packet, peer in held:
                self.sock.sendto(self._reply(packet), peer)

    @staticmethod
    def _question(packet):
        labels, i = [], 12
        while packet[i] != 0:
            labels.append(packet[i + 1:i + 1 + packet[i]].decode("ascii", "replace"))
            i += 1 + packet[i]
        qtype = struct.unpack("!H", packet[i + 1:i + 3])[0]
        return ".".join(labels), qtype

    @staticmethod
    def _reply(packet):
        i = 12
        while packet[i] != 0:
            i += 1 + packet[i]
        question = packet[12:i + 5]
        qtype = struct.unpack("!H", packet[i + 1:i + 3])[0]
        answers = 1 if qtype == 1 else 0
        header = packet[:2] + struct.pack("!HHHHH", 0x8180, 1, answers, 0, 0)
        body = question
        if answers:
            body += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
        return header + body


class SlowDnsReloadTest(ReloadCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare(1) for a private /etc/resolv.conf")
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest(f"unshare -m failed: {probe.stderr.decode().strip()}")
        try:
            self.dns = FakeDns()
        except OSError as e:
            self.skipTest(f"cannot bind 127.53.X.Y:53 for a fake DNS server: {e}")
        self.addCleanup(self.dns.close)
        self.resolv_conf = os.path.join(self.workdir, "resolv.conf")
        with open(self.resolv_conf, "w") as f:
            f.write(RESOLV_CONF.format(address=self.dns.address))

    def launch_private_resolver(self, routes):
        """As launch(), with the proxy's /etc/resolv.conf pointing at FakeDns. `exec`
        keeps the PID, so signals reach the proxy itself."""
        self.write_in_place(self.render(routes))
        self.p = self.proxy(["-c", self.conf_path], start=False)
        self.p.args = ["unshare", "-m", "sh", "-c",
                       'mount --bind "$0" /etc/resolv.conf && exec "$@"',
                       self.resolv_conf] + self.p.args
        self.p.start(timeout=env.t(10))
        return self.p

    def start_slow_reload(self):
        """A proxy serving `web`; then its file gains a backend named SLOW_NAME and a
        SIGHUP follows (coalesced with the file watcher's reload). Returns once the
        proxy's lookup reached FakeDns, i.e. the reload is waiting for it."""
        self.backend_a = self.backend()
        self.web = self.route("web", [self.backend_a])
        self.launch_private_resolver([self.web])
        self.mark = self.p.mark()
        slow_backend = f"{SLOW_NAME}:{self.backend_a.address.rsplit(':', 1)[1]}"
        slow = config.Route("web", [self.backend_a.address, slow_backend], port=self.web.port)
        text = self.render([slow])
        self.slow_line = text.splitlines().index(f"backend = {slow_backend}") + 1
        self.write_in_place(text)
        for _ in range(3):
            self.p.signal(signal.SIGHUP)
        wait_until(lambda: self.dns.asked(SLOW_NAME), env.t(5), "the proxy's DNS query")

    def assert_healthz_while_waiting(self):
        # The reload's bound is 5 s and glibc's 30 s: an answer within 4 s shows the
        # control thread is not the one waiting.
        deadline = Deadline(4)
        status, _, body = http.request(self.stats_port, "/healthz", deadline.remaining())
        self.assertEqual(status, 200, body)
        self.assertFalse(deadline.expired(), "/healthz answered only after the wait")

    def test_healthz_served_and_reload_fails_naming_the_line(self):
        self.start_slow_reload()
        self.assert_healthz_while_waiting()
        self.assertGreater(int(http.metric(http.get_metrics(self.stats_port, 4),
                                           "arus_config_generation")), 0)
        # The file event and three SIGHUPs started one lookup, not four.
        self.assertEqual(self.dns.count(SLOW_NAME), 1)
        failed = self.wait_reload_failed(self.mark, timeout=env.t(15))
        self.assertEqual(
            failed.fields["error"],
            f"{self.conf_path}:{self.slow_line}: [route:web] backend: cannot resolve "
            f"'{SLOW_NAME}': no answer within 5000 ms")
        # The old configuration still serves; the SIGHUPs that came while the first
        # reload waited were coalesced into one more, which waits in turn.
        self.echo_once(self.web.port, b"still here\n")
        self.assertGreaterEqual(self.reloads("error"), 1)
        wait_until(lambda: self.dns.count(SLOW_NAME) == 2, env.t(5),
                   "the coalesced reload's lookup")

    def test_sigterm_drains_while_a_reload_waits(self):
        self.start_slow_reload()
        t0 = time.monotonic()
        self.p.signal(signal.SIGTERM)
        # Well before glibc's 30 s; the proxy must not wait for the lookup either.
        self.assertEqual(self.p.wait_exit(env.t(4)), 0, self.p.tail())
        self.assertLess(time.monotonic() - t0, 25)

    def test_late_answer_completes_the_reload(self):
        self.start_slow_reload()
        self.assert_healthz_while_waiting()
        self.dns.answer()
        self.wait_reloaded(self.mark, timeout=env.t(10))
        self.assert_no_reload_error(self.mark)


if __name__ == "__main__":
    unittest.main()
