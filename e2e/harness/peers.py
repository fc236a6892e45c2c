"""Real servers the end-to-end tests talk to: HAProxy, nginx (stream module), redis-server
and PostgreSQL. Where their binaries are, and a process wrapper that runs one in the
foreground with a test's own configuration and stops it by its PID. The packages are
installed by `make test` (scripts/ensure-deps.sh test); a test that still finds one
missing fails with the install command instead of skipping."""
import glob
import os
import shutil
import socket
import subprocess

from .wait import wait_until

NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def _need(path, package):
    if path and os.path.exists(path):
        return path
    raise AssertionError(f"{package} is missing: apt-get install -y {package}")


def haproxy() -> str:
    return _need(shutil.which("haproxy") or "/usr/sbin/haproxy", "haproxy")


def nginx() -> str:
    _need(NGINX_STREAM_MODULE, "libnginx-mod-stream")
    return _need(shutil.which("nginx") or "/usr/sbin/nginx", "nginx")


def redis_server() -> str:
    return _need(shutil.which("redis-server"), "redis-server")


def postgres_tool(name: str) -> str:
    """initdb, postgres, pg_ctl, pgbench, psql from the newest installed PostgreSQL."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return _need(found[-1] if found else None, "postgresql")


def _accepts(port: int, host="127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class PeerProcess:
    """One real server in the foreground: started with argv, ready once `port` accepts a
    connection, stopped by its PID (SIGTERM, then SIGKILL). Output goes to log_path."""

    def __init__(self, argv, port: int, log_path: str, *, user=None, env=None, cwd=None):
        self.argv = list(argv)
        self.port = port
        self.log_path = log_path
        self.user = user
        self.env = env
        self.cwd = cwd
        self.process = None

    def start(self, timeout: float = 20.0):
        log = open(self.log_path, "ab")
        kwargs = {}
        if self.user is not None:
            kwargs["user"] = self.user
        self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd,
                                        **kwargs)
        log.close()
        wait_until(lambda: self.process.poll() is not None or _accepts(self.port), timeout,
                   f"{os.path.basename(self.argv[0])} to listen on {self.port}", self.log_tail)
        if self.process.poll() is not None:
            raise AssertionError(f"{self.argv[0]} exited with {self.process.returncode}\n"
                                 + self.log_tail())
        return self

    def stop(self, timeout: float = 10.0):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

