"""ProxyTestCase: a unittest base that owns a test's working folder, backends, proxies and
client sockets, and tears them all down, failing the test when a proxy printed a
sanitizer report, crashed, or ignored SIGTERM. Used from the test thread only."""
import os
import re
import shutil
import tempfile
import unittest

from . import config, env
from .backends import Backend
from .client import connect
from .proxy import Proxy
from .wait import default_timeout

_run_dir = None


def run_dir() -> str:
    """One folder per run; run.py removes it when every test passed."""
    global _run_dir
    if _run_dir is None:
        _run_dir = tempfile.mkdtemp(prefix="arus-e2e-")
    return _run_dir


def remove_run_dir():
    if _run_dir is not None:
        shutil.rmtree(_run_dir, ignore_errors=True)


class ProxyTestCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.id())
        self.workdir = os.path.join(run_dir(), name)
        os.makedirs(self.workdir, exist_ok=True)
        self._proxy_count = 0

    # -- resources -------------------------------------------------------------------
    def backend(self, kind="echo", **params) -> Backend:
        b = Backend(kind, **params).start()
        self.addCleanup(b.stop)
        return b

    def route(self, name, backends, **options) -> config.Route:
        addrs = [b.address if isinstance(b, Backend) else b for b in backends]
        return config.Route(name, addrs, options)

    def write_config(self, routes, global_options=None, name="proxy.conf") -> str:
        return config.write(os.path.join(self.workdir, name), routes, global_options)

    def proxy(self, args, *, nofile=None, start=True, wait_started=True, cwd=None) -> Proxy:
        """A proxy with these arguments, torn down (and checked) at cleanup."""
        self._proxy_count += 1
        log_path = os.path.join(self.workdir, f"proxy-{self._proxy_count}.log")
        p = Proxy(args, nofile=nofile, log_path=log_path, cwd=cwd)
        self.addCleanup(self._teardown_proxy, p)
        if start:
            p.start(wait_started=wait_started, timeout=env.t(10))
        return p

    def start_proxy(self, routes, global_options=None, args=(), nofile=None) -> Proxy:
        path = self.write_config(routes, global_options)
        return self.proxy(["-c", path, *args], nofile=nofile)

    def client(self, port, timeout=None):
        s = connect(port, default_timeout() if timeout is None else timeout)
        self.addCleanup(s.close)
        return s

    # -- teardown checks -------------------------------------------------------------
    def _teardown_proxy(self, p: Proxy):
        if p.proc is None:
            return
        # The default grace period is 3 s; a test that held connections with a longer one
        # has failed already, and the second SIGTERM of stop() cuts its drain short.
        status, killed = p.stop(timeout=env.t(8))
        report = p.sanitizer_report()
        if report:
            self.fail(f"sanitizer report from proxy pid {p.pid}:\n{report}")
        if killed:
            self.fail(f"proxy pid {p.pid} did not exit after two SIGTERMs; killed\n{p.tail()}")
        if status is not None and status < 0:
            self.fail(f"proxy pid {p.pid} died of signal {-status}\n{p.tail()}")
        if status == 66:
            self.fail(f"proxy pid {p.pid} exited 66 (sanitizer exit code)\n{p.tail()}")

    def assertClosedBy(self, how: str, *allowed):
        allowed = allowed or ("eof", "reset")
        self.assertIn(how, allowed, f"expected the connection closed ({allowed}), got {how}")
