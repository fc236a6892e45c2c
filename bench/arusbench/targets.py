# Backends (nginx HTTP, iperf3 server) and the targets under test (direct, arus splice,
# arus filter, HAProxy x2, nginx stream, and arus through two hops with and without the
# PROXY protocol): their configuration files and their lifetimes.
# Used from the orchestrator's single thread.
import glob
import os
import resource
import socket
import time

from . import procs

SMALL_BODY = ("arus-bench small response: about one hundred bytes of body, "
              "fixed so every target relays the same.\n")


def wait_port(port, proc, deadline_s=10.0):
    """Waits until something accepts on 127.0.0.1:port, or the process died."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def nofile():
    """What nginx may ask for: the hard limit (raising it needs CAP_SYS_RESOURCE)."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def nginx_main(prefix):
    """The main context both nginx instances share (the backend, the stream proxy): one
    worker, in the foreground, files under prefix."""
    return f"""user root root;
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {nofile()};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 20000; multi_accept on; }}"""


def stream_module_line():
    for path in glob.glob("/usr/lib/nginx/modules/ngx_stream_module.so"):
        return f"load_module {path};\n"
    return ""  # built in, or absent: nginx -t will say


class Backends:
    """nginx serving /small (~100 bytes) and /large.bin, and an iperf3 server; all pinned
    to the load-generator core."""

    def __init__(self, work, cpu, http_port, iperf_port, large_mib):
        self.work, self.cpu = work, cpu
        self.http_port, self.iperf_port = http_port, iperf_port
        # The same HTTP server behind `listen ... proxy_protocol`, for the PROXY targets.
        self.pp_http_port = http_port + 1
        self.large_mib = large_mib
        self.nginx = self.iperf = None

    def prepare(self):
        root = os.path.join(self.work, "www")
        os.makedirs(root, exist_ok=True)
        large = os.path.join(root, "large.bin")
        if not os.path.exists(large) or os.path.getsize(large) != self.large_mib << 20:
            block = os.urandom(1 << 20)
            with open(large, "wb") as f:
                for _ in range(self.large_mib):
                    f.write(block)
        prefix = os.path.join(self.work, "nginx-backend")
        os.makedirs(prefix, exist_ok=True)
        body = SMALL_BODY.replace('"', "")
        self.conf = _write(os.path.join(prefix, "nginx.conf"), f"""{nginx_main(prefix)}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_header_timeout 600s;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{self.http_port} backlog=4096;
    location = /small {{ default_type text/plain; return 200 "{body}"; }}
    location / {{ root {root}; }}
  }}
  server {{
    listen 127.0.0.1:{self.pp_http_port} proxy_protocol backlog=4096;
    location = /small {{ default_type text/plain; return 200 "{body}"; }}
    location / {{ root {root}; }}
  }}
}}
""")

    def start(self):
        prefix = os.path.dirname(self.conf)
        self.nginx = procs.spawn(["nginx", "-p", prefix, "-e", prefix + "/error.log", "-c",
                                  self.conf], self.cpu, os.path.join(self.work, "backend-nginx.log"))
        self.start_iperf()
        if not wait_port(self.http_port, self.nginx):
            raise RuntimeError(f"nginx backend did not start: see {prefix}/error.log")

    def start_iperf(self):
        self.iperf = procs.spawn(["iperf3", "-s", "-p", str(self.iperf_port), "--idle-timeout", "60"],
                                 self.cpu, os.path.join(self.work, "backend-iperf3.log"))
        if not wait_port(self.iperf_port, self.iperf):
            raise RuntimeError("iperf3 server did not start")
        time.sleep(0.2)  # our probe connection counts as a test to iperf3: let it reset

    def restart_iperf(self):
        """After a failed client, iperf3 -s can stay 'busy': start it afresh."""
        if self.iperf is not None:
            procs.stop(self.iperf)
        self.start_iperf()

    def pids(self):
        out = []
        for proc in (self.nginx, self.iperf):
            if proc is not None and proc.poll() is None:
                out += procs.tree(proc.pid)
        return out

    def stop(self):
        for proc in (self.nginx, self.iperf):
            if proc is not None:
                procs.stop(proc)


class Target:
    """One thing the load generators talk to: `http_port` and `iperf_port` lead to the
    backends, directly or through a proxy pinned to `cpu` with one worker."""

    def __init__(self, name, label, kind, work, cpu, ports, backends, opts, tests=None):
        self.name, self.label, self.kind = name, label, kind
        self.tests = tests  # the test kinds this target runs; None: all
        self.work, self.cpu, self.backends, self.opts = work, cpu, backends, opts
        self.proc = None
        self.pids = []
        if kind == "direct":
            self.http_port, self.iperf_port = backends.http_port, backends.iperf_port
        else:
            self.http_port, self.iperf_port = ports

    @property
    def is_proxy(self):
        return self.kind != "direct"

    def _config(self):
        d = os.path.join(self.work, self.name)
        os.makedirs(d, exist_ok=True)
        be = self.backends
        if self.kind in ("arus", "arus-filter", "arus-filter-copy", "arus-log"):
            # arus-base*: the same configuration run by another build (--arus-base-bin), to
            # compare two builds of arus in the same run.
            binary = self.opts["arus_base_bin"] if self.name.startswith("arus-base") \
                else self.opts["arus_bin"]
            # arus-filter: the filter that forwards (passthrough.c; it copies on a build
            # without ARUS_HOST_FORWARD); arus-filter-copy: the one that copies.
            filt = {"arus-filter": "filter = passthrough.so\n",
                    "arus-filter-copy": "filter = passthrough_copy.so\n"}.get(self.kind, "")
            # arus-log: the splice target with one access line per connection, to a file.
            level, access = ("info", "on") if self.kind == "arus-log" else ("warn", "off")
            routes = "".join(f"""
[route:{route}]
listen = 127.0.0.1:{listen}
backend = 127.0.0.1:{backend}
{filt}connect_timeout_ms = 3000
idle_timeout_ms = 600000
""" for route, listen, backend in (("http", self.http_port, be.http_port),
                                   ("iperf", self.iperf_port, be.iperf_port)))
            conf = _write(os.path.join(d, "arus.conf"), f"""[global]
workers = 1
log_level = {level}
access_log = {access}
plugin_dir = {self.opts['plugin_dir']}
max_connections = 100000
{routes}""")
            return [binary, "-c", conf, "-w", "1", "-l", level]
        if self.kind in ("arus-chain", "arus-chain-pp"):
            # Two hops in one process, so both targets pay for the same relaying and differ
            # only by the PROXY protocol: the outer route sends a v2 header, the inner one
            # reads it and sends a new one to nginx's `listen ... proxy_protocol`.
            pp = self.kind == "arus-chain-pp"
            inner = self.http_port + 2
            send = "send_proxy = v2\n" if pp else ""
            accept = "accept_proxy = on\n" if pp else ""
            conf = _write(os.path.join(d, "arus.conf"), f"""[global]
workers = 1
log_level = warn
access_log = off
max_connections = 100000

[route:http]
listen = 127.0.0.1:{self.http_port}
backend = 127.0.0.1:{inner}
{send}idle_timeout_ms = 600000

[route:http_inner]
listen = 127.0.0.1:{inner}
backend = 127.0.0.1:{be.pp_http_port if pp else be.http_port}
{accept}{send}idle_timeout_ms = 600000

[route:iperf]
listen = 127.0.0.1:{self.iperf_port}
backend = 127.0.0.1:{be.iperf_port}
""")
            return [self.opts["arus_bin"], "-c", conf, "-w", "1", "-l", "warn"]
        if self.kind in ("haproxy", "haproxy-splice"):
            splice = ("option splice-auto" if self.kind == "haproxy"
                      else "option splice-request\n  option splice-response")
            sections = "".join(f"""
frontend {route}_fe
  bind 127.0.0.1:{listen}
  default_backend {route}_be
backend {route}_be
  server s1 127.0.0.1:{backend}
""" for route, listen, backend in (("http", self.http_port, be.http_port),
                                   ("iperf", self.iperf_port, be.iperf_port)))
            conf = _write(os.path.join(d, "haproxy.cfg"), f"""global
  nbthread 1
  maxconn {self.opts['maxconn']}
{"  maxpipes " + str(self.opts['maxpipes']) + chr(10) if self.opts.get('maxpipes') else ""}defaults
  mode tcp
  timeout connect 3s
  timeout client 600s
  timeout server 600s
  {splice}
{sections}""")
            return ["haproxy", "-db", "-f", conf]
        if self.kind == "nginx":
            servers = "".join(f"""
  server {{ listen 127.0.0.1:{listen} backlog=4096; proxy_pass 127.0.0.1:{backend};
           proxy_connect_timeout 3s; proxy_timeout 600s; }}"""
                              for listen, backend in ((self.http_port, be.http_port),
                                                      (self.iperf_port, be.iperf_port)))
            conf = _write(os.path.join(d, "nginx.conf"), f"""{stream_module_line()}
{nginx_main(d)}
stream {{{servers}
}}
""")
            return ["nginx", "-p", d, "-e", d + "/error.log", "-c", conf]
        raise ValueError(self.kind)

    def start(self):
        if not self.is_proxy:
            return
        cmd = self._config()
        self.proc = procs.spawn(cmd, self.cpu, os.path.join(self.work, f"{self.name}.log"))
        ok = wait_port(self.http_port, self.proc) and wait_port(self.iperf_port, self.proc)
        if not ok:
            raise RuntimeError(f"{self.label} did not start: see {self.work}/{self.name}.log")
        time.sleep(0.3)  # iperf3 -s saw our probe as a client: let it settle
        deadline = time.monotonic() + 5
        self.pids = procs.tree(self.proc.pid)
        while self.kind == "nginx" and len(self.pids) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the worker is forked after the master binds
            self.pids = procs.tree(self.proc.pid)

    def stop(self):
        if self.proc is not None:
            procs.stop(self.proc)
            self.proc = None
            self.pids = []

    def alive(self):
        return not self.is_proxy or (self.proc is not None and self.proc.poll() is None)

    def cpu_ns(self):
        return procs.cpu_ns(self.pids) if self.is_proxy else 0


TARGETS = [
    ("direct", "direct", "direct"),
    ("arus", "arus splice", "arus"),
    ("arus-filter", "arus filter, forwarding", "arus-filter"),
    ("arus-filter-copy", "arus filter, copying", "arus-filter-copy"),
    ("haproxy", "HAProxy splice-auto", "haproxy"),
    ("haproxy-splice", "HAProxy splice forced", "haproxy-splice"),
    ("nginx", "nginx stream", "nginx"),
    # Not in the default run (see DEFAULT_TARGETS): the access log's cost, --targets arus,arus-log.
    ("arus-log", "arus splice, access log on", "arus-log"),
    # The PROXY protocol's cost: the same two hops, plain and with accept_proxy + send_proxy.
    ("arus-chain", "arus 2 hops, plain", "arus-chain"),
    ("arus-chain-pp", "arus 2 hops, PROXY v2", "arus-chain-pp"),
    # Not in the default run: another build of arus (--arus-base-bin), splice and filter.
    ("arus-base", "arus splice, baseline build", "arus"),
    ("arus-base-filter", "arus filter, baseline build (copies: no FORWARD there)", "arus-filter"),
]
DEFAULT_TARGETS = [name for name, _, _ in TARGETS
                   if name != "arus-log" and not name.startswith("arus-base")]
# Targets that run only some tests (the others: every test).
TARGET_TESTS = {"arus-chain": {"keepalive", "churn"}, "arus-chain-pp": {"keepalive", "churn"}}


def make_targets(names, work, proxy_cpu, port_base, backends, opts):
    out = []
    for i, (name, label, kind) in enumerate(TARGETS):
        if name not in names:
            continue
        ports = (port_base + 100 + 10 * i, port_base + 101 + 10 * i)
        out.append(Target(name, label, kind, work, proxy_cpu, ports, backends, opts,
                          TARGET_TESTS.get(name)))
    return out
