# Reload at scale (issue 19, part 3): a configuration of many routes (two backends each)
# plus one route under a steady wrk keep-alive load; reloads that each change a few
# backends of other routes. Per reload: arus's `reloaded ... duration_ms` (every worker on
# the new generation) and the time from the file's rename to that line; the loaded route's
# p99 without and during the reloads, wrk's errors, RSS before and after. HAProxy does the
# same work as a new process (`haproxy -D -sf OLD`): the time until it has bound.
# Single-threaded, like the orchestrator; every process is ended by PID.
import os
import re
import signal
import socket
import subprocess
import time

from . import loads, procs
from .targets import wait_port

# The many routes listen on an address of their own, so their thousands of ports cannot
# meet the 127.0.0.1 sockets of the other tests (or of other runs on the machine).
SCALE_ADDRESS = "127.0.19.1"
BACKEND_NET = "127.0.20"  # backend addresses: nothing listens, no health checks connect
CHANGED_PER_RELOAD = 3  # routes whose backend changes in each reload


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind((SCALE_ADDRESS, port))
            return True
        except OSError:
            return False


def scale_ports(port_base, routes):
    """`routes` ports above the orchestrator's, best below the ephemeral range, skipping
    those another program holds. Above it, the kernel may hand a port to a connecting
    socket, but one bound to another address than ours: only our bind could meet it, and
    that happens once, at start, right after this check."""
    # The orchestrator's own ports end below port_base + 300.
    first = max(port_base + 300, min(port_base + 3000, _ephemeral_low() - routes - 1000))
    ports = []
    for port in range(first, 61000):
        if len(ports) == routes:
            break
        if _bindable(port):
            ports.append(port)
    if len(ports) < routes:
        raise loads.MeasureError(f"fewer than {routes} free ports from {first}")
    return ports


def _backend(i, b, version):
    # Literal addresses; `version` moves the port of a changed backend.
    return f"{BACKEND_NET}.{(2 * i + b) % 250 + 1}:{10000 + (2 * i + b) % 20000 + version}"


def _versions(routes, reload_no):
    """Which routes' first backend is changed after reload_no reloads: a few each time."""
    v = [0] * routes
    for r in range(1, reload_no + 1):
        for k in range(CHANGED_PER_RELOAD):
            v[(r * 7919 + k * 104729) % routes] += 1
    return v


def arus_config(ports, loaded_port, backend_port, workers, reload_no):
    routes = len(ports)
    versions = _versions(routes, reload_no)
    parts = [f"""[global]
workers = {workers}
log_level = info
access_log = off
max_connections = 100000

[route:loaded]
listen = 127.0.0.1:{loaded_port}
backend = 127.0.0.1:{backend_port}
idle_timeout_ms = 600000
"""]
    for i, port in enumerate(ports):
        parts.append(f"""
[route:r{i}]
listen = {SCALE_ADDRESS}:{port}
backend = {_backend(i, 0, versions[i])}
backend = {_backend(i, 1, 0)}
""")
    return "".join(parts)


def haproxy_config(ports, loaded_port, backend_port, reload_no, pidfile):
    routes = len(ports)
    versions = _versions(routes, reload_no)
    parts = [f"""global
  nbthread 1
  maxconn 4000
  pidfile {pidfile}
defaults
  mode tcp
  timeout connect 3s
  timeout client 600s
  timeout server 600s
frontend loaded_fe
  bind 127.0.0.1:{loaded_port}
  default_backend loaded_be
backend loaded_be
  server s1 127.0.0.1:{backend_port}
"""]
    for i, port in enumerate(ports):
        parts.append(f"""frontend r{i}_fe
  bind {SCALE_ADDRESS}:{port}
  default_backend r{i}_be
backend r{i}_be
  server s0 {_backend(i, 0, versions[i])}
  server s1 {_backend(i, 1, 0)}
""")
    return "".join(parts)


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class _LogTail:
    """Reads new lines of a log file as they come."""

    def __init__(self, path):
        self.path, self.pos = path, 0

    def skip(self):
        self.pos = os.path.getsize(self.path)

    def wait_for(self, pattern, deadline_s):
        end = time.monotonic() + deadline_s
        rx = re.compile(pattern)
        while time.monotonic() < end:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
            offset = 0
            for line in data.split(b"\n")[:-1]:  # complete lines only
                offset += len(line) + 1
                m = rx.search(line.decode(errors="replace"))
                if m:
                    self.pos += offset
                    return m, time.monotonic()
            time.sleep(0.002)
        raise loads.MeasureError(f"no line matching {pattern!r} in {self.path} "
                                 f"within {deadline_s:.0f} s")


def _wrk_start(port, cpu, seconds):
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", "-c64", f"-d{seconds}s", "--timeout", "5s",
           "--latency", f"http://127.0.0.1:{port}/small"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _wrk_finish(proc, seconds):
    try:
        out, err = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise loads.MeasureError("wrk did not finish")
    if proc.returncode != 0:
        raise loads.MeasureError(f"wrk exit {proc.returncode}: {err.decode()[-300:]}")
    return loads.parse_wrk(out.decode(errors="replace"))


def _median(values):
    s = sorted(values)
    if not s:
        return None
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


class ReloadScale:
    """One reload-at-scale run per target: `routes` routes, `reloads` reloads spread over a
    wrk run of `seconds`, after a wrk run of the same length without reloads."""

    def __init__(self, work, proxy_cpu, loadgen_cpu, port_base, backend_port, routes, reloads,
                 seconds, log):
        self.work, self.proxy_cpu, self.loadgen_cpu = work, proxy_cpu, loadgen_cpu
        self.port_base, self.backend_port = port_base, backend_port
        self.routes, self.reloads, self.seconds = routes, reloads, seconds
        self.loaded_port = port_base + 90
        self.log = log

    def _start_timeout(self):
        return 60.0 + self.routes / 50.0

    def _loaded_phase(self, pids, reload_one):
        """wrk without reloads, then wrk during the reloads; reload_one(n) applies reload n
        and returns its figures; pids() lists the proxy's processes."""
        _wrk_finish(_wrk_start(self.loaded_port, self.loadgen_cpu, 1), 1)  # warm-up
        quiet = _wrk_finish(_wrk_start(self.loaded_port, self.loadgen_cpu, self.seconds),
                            self.seconds)
        rss_before = procs.rss_kib(pids())
        pids_before = pids()
        cpu_before = procs.cpu_ns(pids_before)
        wrk = _wrk_start(self.loaded_port, self.loadgen_cpu, self.seconds)
        t0 = time.monotonic()
        gap = self.seconds / (self.reloads + 2)
        per_reload = []
        for n in range(1, self.reloads + 1):
            wait = t0 + n * gap - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            per_reload.append(reload_one(n))
            if n == 1:  # two generations have lived at once by now: the allocator's peak
                rss_first = procs.rss_kib(pids())
        busy = _wrk_finish(wrk, self.seconds)
        pids_after = pids()
        cpu_s = (procs.cpu_ns(pids_after) - cpu_before) / 1e9
        if not set(pids_before) <= set(pids_after):
            cpu_s = None  # a process left (an old HAProxy): its CPU time went with it
        time.sleep(0.5)  # old generations are freed once their last connection ends
        rss_after = procs.rss_kib(pids())
        return {
            "quiet_p99_ms": quiet.get("p99_ms"), "quiet_rps": quiet["rps"],
            "reload_p99_ms": busy.get("p99_ms"), "reload_rps": busy["rps"],
            "errors": quiet["errors"] + busy["errors"],
            "rss_before_kib": rss_before, "rss_after_kib": rss_after, "rss_first_kib": rss_first,
            "cpu_s": cpu_s, "per_reload": per_reload,
        }

    def run_arus(self, binary, workers):
        d = os.path.join(self.work, f"reload-arus-{workers}w-{os.path.basename(binary)}")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "arus.conf")
        log_path = os.path.join(d, "arus.log")
        open(log_path, "w").close()
        ports = scale_ports(self.port_base, self.routes)

        # Every file made before the load starts: this process shares the load generator's
        # CPU, and formatting thousands of routes during the run would delay wrk's own
        # requests (their latency is the figure).
        texts = [arus_config(ports, self.loaded_port, self.backend_port, workers, n)
                 for n in range(self.reloads + 1)]

        def config(n):
            return texts[n]

        _write_atomic(conf, config(0))
        # One worker pinned like the other targets; two workers get both CPUs.
        cpus = str(self.proxy_cpu) if workers == 1 else f"{self.proxy_cpu},{self.loadgen_cpu}"
        t0 = time.monotonic()
        proc = procs.spawn([binary, "-c", conf, "-w", str(workers), "-l", "info"], cpus,
                           log_path)
        try:
            if not wait_port(self.loaded_port, proc, self._start_timeout()):
                raise loads.MeasureError(f"arus did not start: see {log_path}")
            tail = _LogTail(log_path)
            tail.wait_for(r" started ", self._start_timeout())  # the file is watched from here
            _wait_accepting(SCALE_ADDRESS, ports[-1], proc, self._start_timeout())
            start_s = time.monotonic() - t0

            def reload_one(n):
                tail.skip()
                t = time.monotonic()
                _write_atomic(conf, config(n))
                m, seen = tail.wait_for(r"reloaded .*duration_ms=(\d+)", 60.0)
                return {"duration_ms": int(m.group(1)), "seen_ms": (seen - t) * 1000}

            res = self._loaded_phase(lambda: procs.tree(proc.pid), reload_one)
            if proc.poll() is not None:
                raise loads.MeasureError(f"arus exited during the reloads: see {log_path}")
            res["start_s"] = start_s
            return _summarise(res)
        finally:
            procs.stop(proc)

    def run_haproxy(self):
        d = os.path.join(self.work, "reload-haproxy")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "haproxy.cfg")
        pidfile = os.path.join(d, "haproxy.pid")
        ports = scale_ports(self.port_base, self.routes)

        texts = [haproxy_config(ports, self.loaded_port, self.backend_port, n, pidfile)
                 for n in range(self.reloads + 1)]  # before the load, as arus's

        def config(n):
            return texts[n]

        started = set()  # every daemon's PID, ended at the end by PID

        def launch(old):
            # `haproxy -D` returns once its daemon has read the file and bound every
            # listener: the time until the new process serves. `-sf` then asks the old one
            # to stop accepting and leave when its connections end (wrk's: not in the run).
            cmd = ["taskset", "-c", str(self.proxy_cpu), "haproxy", "-D", "-f", conf]
            if old:
                cmd += ["-sf"] + [str(p) for p in old]
            t = time.monotonic()
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            took = time.monotonic() - t
            if r.returncode != 0:
                raise loads.MeasureError(f"haproxy -D exit {r.returncode}: {r.stderr[-300:]}")
            with open(pidfile) as f:
                pids = [int(x) for x in f.read().split()]
            started.update(pids)
            return pids, took

        _write_atomic(conf, config(0))
        try:
            current, start_took = launch([])
            _wait_accepting(SCALE_ADDRESS, ports[-1], None, self._start_timeout())
            state = {"current": current}

            def reload_one(n):
                t = time.monotonic()
                _write_atomic(conf, config(n))
                state["current"], took = launch(state["current"])
                return {"duration_ms": took * 1000, "seen_ms": (time.monotonic() - t) * 1000}

            def all_pids():
                return [p for p in started if os.path.exists(f"/proc/{p}")]

            res = self._loaded_phase(all_pids, reload_one)
            res["start_s"] = start_took
            return _summarise(res)
        finally:
            for pid in started:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            end = time.monotonic() + 5
            while time.monotonic() < end and any(os.path.exists(f"/proc/{p}") for p in started):
                time.sleep(0.05)


def _wait_accepting(host, port, proc, deadline_s):
    """The last of the many routes accepts: every listener is bound."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and (proc is None or proc.poll() is None):
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise loads.MeasureError(f"{host}:{port} never accepted")


def _summarise(res):
    per = res.pop("per_reload")
    durations = [r["duration_ms"] for r in per if r["duration_ms"] is not None]
    seen = [r["seen_ms"] for r in per]
    res.update({
        "reloads": len(per),
        "duration_ms_median": _median(durations), "duration_ms_max": max(durations, default=None),
        "seen_ms_median": _median(seen), "seen_ms_max": max(seen, default=None),
        "durations_ms": durations, "seen_ms": [round(s, 1) for s in seen],
    })
    if res["quiet_p99_ms"] and res["reload_p99_ms"]:
        res["p99_ratio"] = res["reload_p99_ms"] / res["quiet_p99_ms"]
    if res["rss_before_kib"]:
        res["rss_growth"] = res["rss_after_kib"] / res["rss_before_kib"] - 1
    return res


def summary(res):
    def ms(v):
        return "-" if v is None else f"{v:.0f} ms"
    return (f"reload median {ms(res['duration_ms_median'])} (max {ms(res['duration_ms_max'])}), "
            f"seen {ms(res['seen_ms_median'])}; p99 {res['quiet_p99_ms']:.2f} -> "
            f"{res['reload_p99_ms']:.2f} ms, errors {res['errors']}, RSS "
            f"{res['rss_before_kib']} -> {res['rss_after_kib']} KiB")


LABELS = {"arus": "arus, 1 worker", "arus-2w": "arus, 2 workers",
          "arus-base": "arus baseline build, 1 worker", "haproxy": "HAProxy, new process (-D -sf)"}


def render_table(reload):
    """The report's "Reload at scale" section (Markdown lines), or none without results."""
    if not reload:
        return []
    names = [n for n in LABELS if n in reload] + [n for n in reload if n not in LABELS]
    any_run = reload[names[0]]

    def cell(v, fmt):
        return "–" if v is None else fmt.format(v)

    rows = [
        ("reload applied, median (arus: `reloaded ... duration_ms`, every worker on the new "
         "generation; HAProxy: until `haproxy -D` returns, the new process bound)", "ms", lambda r: cell(r["duration_ms_median"], "{:,.0f}")),
        ("reload applied, max", "ms", lambda r: cell(r["duration_ms_max"], "{:,.0f}")),
        ("file renamed → reload logged, median (arus: includes the watcher's settling "
         "delay)", "ms", lambda r: cell(r["seen_ms_median"], "{:,.0f}")),
        ("file renamed → reload logged, max", "ms", lambda r: cell(r["seen_ms_max"], "{:,.0f}")),
        ("loaded route p99 without reloads", "ms", lambda r: cell(r["quiet_p99_ms"], "{:.2f}")),
        ("loaded route p99 during the reloads", "ms", lambda r: cell(r["reload_p99_ms"], "{:.2f}")),
        ("p99 during ÷ without (target ≤ 1.5)", "×", lambda r: cell(r.get("p99_ratio"), "{:.2f}")),
        ("loaded route requests/s during the reloads", "req/s",
         lambda r: cell(r["reload_rps"], "{:,.0f}")),
        ("failed requests (wrk socket errors, non-2xx)", "", lambda r: str(r["errors"])),
        ("RSS before the reloads", "MiB", lambda r: cell(r["rss_before_kib"] / 1024, "{:.1f}")),
        ("RSS after the first reload", "MiB",
         lambda r: cell(r["rss_first_kib"] / 1024, "{:.1f}")),
        ("RSS after the last reload", "MiB", lambda r: cell(r["rss_after_kib"] / 1024, "{:.1f}")),
        ("RSS growth over all the reloads (target within 5 %)", "%",
         lambda r: cell(None if r.get("rss_growth") is None else 100 * r["rss_growth"], "{:+.1f}")),
        ("RSS growth from the first reload to the last", "%",
         lambda r: cell(100 * (r["rss_after_kib"] / r["rss_first_kib"] - 1)
                        if r.get("rss_first_kib") else None, "{:+.1f}")),
        ("proxy CPU during the reloads", "s", lambda r: cell(r["cpu_s"], "{:.2f}")),
        ("start-up until every listener accepts", "s", lambda r: cell(r["start_s"], "{:.2f}")),
    ]
    lines = ["", "## Reload at scale", "",
             f"{any_run['routes']:,} routes of two backends each (literal addresses) plus one "
             f"route under `wrk -t1 -c64` keep-alive load; {any_run['reloads']} reloads, each "
             f"changing a backend of {CHANGED_PER_RELOAD} other routes, written by rename and "
             "spread over one wrk run; the same wrk run without reloads before it. arus reloads "
             "in place on its own (inotify); HAProxy reloads the usual way, a new process "
             "(`haproxy -D -sf OLD`) that reads the file and binds every listener, the old one "
             "keeping wrk's connections until they end. One run, not rounds. Targets (issue 19): applied < 100 ms; p99 ≤ 1.5× without reloads; no "
             "failed request; RSS within 5 %.", "",
             "| figure | unit | " + " | ".join(LABELS.get(n, n) for n in names) + " |",
             "|" + "---|" * (2 + len(names))]
    for label, unit, fmt in rows:
        lines.append(f"| {label} | {unit} | " + " | ".join(fmt(reload[n]) for n in names) + " |")
    return lines
