# Connections at scale (issue 19): one proxy worker holding 1k, 3k and 9k idle connections
# (each relayed to the backend), with 64 active keep-alive clients (wrk) measured at each
# level; arus and HAProxy (one thread) side by side. Per level: user-space bytes per
# connection (RSS growth), kernel slab per connection, time to establish the level, and
# the active clients' rate and p50/p99.
#
# The idle client sockets live in a holder process of their own (`python3 -m
# arusbench.scale --hold`), so neither it nor this orchestrator nears the per-process
# descriptor limit: holder ~level, proxy 2 x (level + 64), backend level + 64. Every wait
# is bounded in time. The orchestrator side is single-threaded.
import os
import select
import socket
import statistics
import subprocess
import sys
import time

from . import idle, loads, procs

FULL_LEVELS = [1000, 3000, 9000]
QUICK_LEVELS = [200, 600]
# The targets the scale test runs, when named in --targets.
SCALE_TARGETS = ("arus", "arus-base", "haproxy")
ACTIVE = 64          # wrk -c64 keep-alive clients measured at each level
BATCH = 250          # connections opened before waiting for them to reach the backend
STEP_DEADLINE_S = 20  # one batch must reach the backend within this
FD_MARGIN = 300      # descriptors a proxy keeps besides its connections (listeners, pipes...)
# The targets for this test.
RSS_MAX_B = 512       # user-space bytes per connection, at every level
RSS_FLAT = 1.15       # top level's bytes per connection within this factor of the bottom's
P99_MAX_RATIO = 1.25  # active clients' p99 at the top level vs the bottom level


def max_level(hard_limit):
    """The largest level a proxy can hold under the descriptor limit: two sockets per
    relayed connection, for the idle ones and the active clients."""
    return (hard_limit - FD_MARGIN) // 2 - ACTIVE


def parse_levels(text, quick, hard_limit):
    levels = [int(x) for x in text.split(",")] if text else (QUICK_LEVELS if quick else FULL_LEVELS)
    levels = sorted(set(levels))
    top = max_level(hard_limit)
    if levels[-1] > top:
        raise ValueError(f"scale level {levels[-1]} needs more than the descriptor limit "
                         f"{hard_limit} allows a proxy (at most {top})")
    return levels


# ---- the holder process ----------------------------------------------------------------

def _backend_legs(port):
    """ESTABLISHED TCP connections to 127.0.0.1:port. `ss` filters in the kernel (inet_diag):
    /proc/net/tcp also lists every TIME_WAIT socket of the machine (tens of thousands after
    churn tests), and parsing it would dominate the time to establish a level."""
    try:
        out = subprocess.run(["ss", "-Htn", "state", "established", "dst", f"127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return sum(1 for line in out.splitlines() if line.strip())
    except (OSError, subprocess.SubprocessError):
        return idle._established_to(port)


def _hold(port, backend_port):
    """Holder main loop: `grow N` opens client connections to 127.0.0.1:port until N are
    held, each batch waited for until it reached the backend; answers `ok SECONDS` or
    `err WHY`. End of input closes everything."""
    clients = []
    base = _backend_legs(backend_port)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "grow":
            continue
        want = int(words[1])
        try:
            # Leftovers of the last wrk run must be gone, or they would count as ours.
            end = time.monotonic() + 10
            while _backend_legs(backend_port) > base + len(clients) and \
                    time.monotonic() < end:
                time.sleep(0.05)
            t0 = time.monotonic()
            while len(clients) < want:
                for _ in range(min(BATCH, want - len(clients))):
                    s = socket.socket()
                    s.settimeout(5)
                    s.connect(("127.0.0.1", port))
                    clients.append(s)
                got = idle.wait_count(backend_port, base + len(clients), STEP_DEADLINE_S,
                                      count=_backend_legs, poll_s=0.01)
                if got < base + len(clients):
                    raise RuntimeError(f"only {got - base} of {len(clients)} connections "
                                       "reached the backend")
            print(f"ok {time.monotonic() - t0:.3f}", flush=True)
        except (OSError, RuntimeError) as e:
            print(f"err {e}".replace("\n", " "), flush=True)
    for s in clients:
        s.close()


class Holder:
    """The orchestrator's handle on one holder process (pinned to the load-generator core)."""

    def __init__(self, cpu, port, backend_port, log_path):
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=here, PYTHONDONTWRITEBYTECODE="1")
        self.proc = procs.spawn_piped([sys.executable, "-m", "arusbench.scale", "--hold",
                                       str(port), str(backend_port)], cpu, log_path, env)

    def grow(self, level):
        """Seconds the holder took to go from its last level to `level`."""
        self.proc.stdin.write(f"grow {level}\n".encode())
        self.proc.stdin.flush()
        deadline = 30 + STEP_DEADLINE_S * (level // BATCH + 1)
        ready, _, _ = select.select([self.proc.stdout], [], [], deadline)
        line = self.proc.stdout.readline().decode().strip() if ready else "err no answer in time"
        if not line.startswith("ok "):
            raise RuntimeError(f"holding {level} connections: {line or 'holder exited'}")
        return float(line.split()[1])

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        procs.stop(self.proc)


# ---- the measurement -------------------------------------------------------------------

# ARUS_BENCH_PERF_DIR=DIR records `perf record -g` of the proxy during each level's wrk
# run into DIR/scale-TARGET-LEVEL.data, to compare where the time goes at 1k and 9k
# (`perf report -i FILE --sort sym`). Off by default: perf costs the proxy's core a little.
PERF_DIR = os.environ.get("ARUS_BENCH_PERF_DIR")


def _start_profile(target, level):
    if not PERF_DIR:
        return None
    os.makedirs(PERF_DIR, exist_ok=True)
    out = os.path.join(PERF_DIR, f"scale-{target.name}-{level}.data")
    pids = ",".join(str(p) for p in target.pids)
    return subprocess.Popen(["perf", "record", "-q", "-g", "-p", pids, "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_profile(profiler):
    if profiler is None:
        return
    profiler.send_signal(2)  # SIGINT: perf writes its file and exits
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        procs.stop(profiler)


def measure(target, levels, cpu, seconds, backend_port, work):
    """One round through a freshly started `target`: every level, in increasing order."""
    time.sleep(0.3)
    base_rss = procs.rss_kib(target.pids)
    base_fds = procs.fd_kinds(target.pids)[0]
    base_slab = procs.meminfo_kib("Slab")
    holder = Holder(cpu, target.http_port, backend_port,
                    os.path.join(work, f"scale-holder-{target.name}.log"))
    out = []
    established = 0.0
    try:
        for level in levels:
            established += holder.grow(level)
            time.sleep(0.5)
            if not target.alive():
                raise RuntimeError(f"{target.label} died holding {level} connections")
            rss = procs.rss_kib(target.pids)
            sockets = procs.fd_kinds(target.pids)[0]
            slab = procs.meminfo_kib("Slab")
            window = procs.LoadWindow()
            c0 = target.cpu_ns()
            profiler = _start_profile(target, level)
            res = loads.wrk(target, cpu, seconds, ACTIVE, close=False)
            _stop_profile(profiler)
            res.update(window.finish())
            res["cpu_s"] = (target.cpu_ns() - c0) / 1e9
            res.update({
                "level": level,
                "establish_s": round(established, 3),
                "rss_kib": rss,
                "rss_per_conn_b": (rss - base_rss) * 1024 / level,
                "slab_per_conn_b": (slab - base_slab) * 1024 / level,
                "sockets_per_conn": (sockets - base_fds) / level,
            })
            out.append(res)
    finally:
        holder.stop()
    return out


def run(bench, levels, rounds):
    """Runs the scale test for bench's targets that take part; returns the results dict
    the report renders (also stored in results.json under "scale")."""
    chosen = [t for t in bench.scale_targets]
    samples = {t.name: [] for t in chosen}
    for r in range(rounds):
        bench.log(f"scale: round {r + 1}/{rounds}, levels {levels}")
        for t in chosen:
            try:
                t.start()
                per_level = measure(t, levels, bench.a.loadgen_cpu, bench.a.duration,
                                    bench.backends.http_port, bench.work)
                samples[t.name].append(per_level)
                for x in per_level:
                    bench.log(f"  scale {x['level']:6d} {t.label:22s} "
                              f"rss/conn {x['rss_per_conn_b']:.0f} B, "
                              f"slab/conn {x['slab_per_conn_b']:.0f} B, "
                              f"in {x['establish_s']:.1f} s, "
                              f"p99 {x.get('p99_ms', 0):.2f} ms, foreign {x['foreign_cores']}")
            except (RuntimeError, OSError, loads.MeasureError) as e:
                bench.errors.append(f"scale through {t.label}: {e}")
                bench.log(f"  scale {t.label}: {e}")
            finally:
                t.stop()
    return {"levels": levels, "rounds": rounds, "duration": bench.a.duration,
            "labels": {t.name: t.label for t in chosen}, "order": [t.name for t in chosen],
            "samples": samples}


# ---- figures and report ----------------------------------------------------------------

# key, label, unit, decimals
FIGURES = [
    ("rss_per_conn_b", "User space: proxy RSS growth per connection", "bytes", 0),
    ("slab_per_conn_b", "Kernel: slab growth per connection, whole machine", "bytes", 0),
    ("sockets_per_conn", "Proxy sockets per connection", "fds", 2),
    ("establish_s", "Time to establish the level (cumulative, from 0)", "s", 2),
    ("rps", f"Active clients (wrk -c{ACTIVE} keep-alive): requests/s", "req/s", 0),
    ("p50_ms", "Active clients: p50 latency", "ms", 3),
    ("p99_ms", "Active clients: p99 latency", "ms", 3),
    ("foreign_cores", "Foreign load during the active clients' run", "cores", 2),
]


def figures(scale):
    """{target: {level: {key: median over rounds}}}."""
    out = {}
    for name, rounds in scale["samples"].items():
        per = {}
        for level in scale["levels"]:
            rows = [x for r in rounds for x in r if x["level"] == level]
            if not rows:
                continue
            per[level] = {key: statistics.median([x[key] for x in rows if x.get(key) is not None])
                          for key, *_ in FIGURES if any(x.get(key) is not None for x in rows)}
        out[name] = per
    return out


def goals(scale, figs=None):
    """The issue's targets per target: (label, value text, met or None)."""
    figs = figs or figures(scale)
    lo, hi = scale["levels"][0], scale["levels"][-1]
    rows = []
    for name in scale["order"]:
        f = figs.get(name, {})
        if lo not in f or hi not in f:
            continue
        label = scale["labels"][name]
        rss = [f[level]["rss_per_conn_b"] for level in scale["levels"] if level in f]
        flat = max(rss) / min(rss) if min(rss) > 0 else None
        rows.append((label, f"user-space bytes per connection ≤ {RSS_MAX_B} B at every level",
                     f"{max(rss):.0f} B at most", max(rss) <= RSS_MAX_B))
        rows.append((label, f"user-space bytes per connection flat (max ÷ min ≤ {RSS_FLAT}×)",
                     "–" if flat is None else f"{flat:.2f}×",
                     None if flat is None else flat <= RSS_FLAT))
        p_lo, p_hi = f[lo].get("p99_ms"), f[hi].get("p99_ms")
        r = p_hi / p_lo if p_lo and p_hi else None
        rows.append((label, f"active clients' p99 at {hi:,} ≤ {P99_MAX_RATIO}× its value at {lo:,}",
                     "–" if r is None else f"{r:.2f}×", None if r is None else r <= P99_MAX_RATIO))
    return rows


def _fmt(v, decimals):
    if v is None:
        return "–"
    return f"{v:,.0f}" if decimals == 0 else f"{v:,.{decimals}f}"


def render(scale):
    """The report's "Connections at scale" section, as a list of Markdown lines."""
    figs = figures(scale)
    order, labels = scale["order"], scale["labels"]
    lines = ["", "## Connections at scale", "",
             f"One worker of each proxy holding {', '.join(f'{n:,}' for n in scale['levels'])} "
             "idle connections (opened by a holder process in batches of "
             f"{BATCH}, each relayed to the backend before the next batch), with "
             f"{ACTIVE} active keep-alive clients (`wrk -t1 -c{ACTIVE}`, {scale['duration']} s) "
             "measured at each level; the proxy freshly started for each round, the levels "
             f"reached one after the other. Median over {scale['rounds']} round(s). User space: "
             "the proxy's RSS growth since its start ÷ idle connections. Kernel: the "
             "machine's slab growth ÷ idle connections (four sockets per relayed connection: "
             "client, the proxy's two, the backend's; other sessions on the machine add "
             "noise). The descriptor hard limit here (20,000 per process) caps a proxy near "
             "9,900 connections; the micro-benchmarks below speak for larger counts.", ""]
    lines += ["| connections | figure | unit | " + " | ".join(labels[t] for t in order) + " |",
              "|" + "---|" * (3 + len(order))]
    for key, label, unit, dec in FIGURES:
        for level in scale["levels"]:
            cells = [_fmt(figs.get(t, {}).get(level, {}).get(key), dec) for t in order]
            lines.append(f"| {level:,} | {label} | {unit} | " + " | ".join(cells) + " |")
    rows = goals(scale, figs)
    if rows:
        lines += ["", "| proxy | target | value | met |", "|---|---|---|---|"]
        for label, goal, value, met in rows:
            state = "–" if met is None else ("yes" if met else "**no**")
            lines.append(f"| {label} | {goal} | {value} | {state} |")
    return lines


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--hold":
        _hold(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("usage: python3 -m arusbench.scale --hold PORT BACKEND_PORT")
