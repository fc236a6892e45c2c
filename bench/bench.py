#!/usr/bin/env python3
# arus-proxy benchmark orchestrator (started by bench/run.sh): runs every test against
# every target, alternated over rounds, and writes the Markdown report, the SVG chart
# and the raw JSON. Single-threaded; every process it starts is ended by PID on exit.
import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

from arusbench import (figures, idle, loads, micro, procs, reload_scale, report, scale, svg,
                       targets)

TESTS = ["iperf_up", "iperf_down", "download", "keepalive", "churn"]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 s tests")
    p.add_argument("--rounds", type=int)
    p.add_argument("--duration", type=int, help="seconds per iperf3/wrk test")
    p.add_argument("--idle", type=int, help="idle connections for the memory test")
    p.add_argument("--large-mib", type=int, default=256)
    p.add_argument("--targets", default=",".join(targets.DEFAULT_TARGETS))
    p.add_argument("--tests", default=",".join(TESTS + ["idle", "scale", "reload"]))
    p.add_argument("--scale-levels", help="idle connections held in the scale test, comma "
                   "separated (default 1000,3000,9000; QUICK 200,600)")
    p.add_argument("--scale-rounds", type=int, help="rounds of the scale test (default 3, QUICK 1)")
    p.add_argument("--micro", metavar="JSON", help="results of `make bench-micro` to put in the "
                   "report (build/bench/micro.json)")
    p.add_argument("--reload-routes", type=int, help="routes of the reload test (default "
                   "5000, QUICK 500), two backends each")
    p.add_argument("--reloads", type=int, default=20, help="reloads in the reload test")
    p.add_argument("--proxy-cpu", type=int, default=1)
    p.add_argument("--loadgen-cpu", type=int, default=0)
    p.add_argument("--port-base", type=int, default=21000)
    p.add_argument("--arus-bin")
    p.add_argument("--arus-base-bin", default=os.environ.get("ARUS_BASE_BIN"),
                   help="another build, run as the targets arus-base and arus-base-filter "
                        "(default: $ARUS_BASE_BIN)")
    p.add_argument("--plugin-dir", help="holds passthrough.so")
    p.add_argument("--work", help="scratch folder (default: a new one in /tmp)")
    p.add_argument("--max-foreign", type=float, default=0.5, help="cores; above: re-run")
    p.add_argument("--retries", type=int, help="re-runs of a disturbed test (default 2, QUICK 0)")
    p.add_argument("--rerun-budget", type=float, default=300,
                   help="seconds all re-runs together may take (shared equally by the tests)")
    p.add_argument("--render", metavar="JSON",
                   help="only write --md and --svg again from a results.json of an earlier run")
    p.add_argument("--md", required=True)
    p.add_argument("--svg", required=True)
    p.add_argument("--json")
    a = p.parse_args(argv)
    if not a.render and not (a.arus_bin and a.plugin_dir and a.json):
        p.error("--arus-bin, --plugin-dir and --json are needed for a run")
    if "arus-base" in a.targets and not a.arus_base_bin:
        p.error("the arus-base targets need --arus-base-bin (or ARUS_BASE_BIN)")
    a.rounds = a.rounds or (1 if a.quick else 5)
    a.duration = a.duration or (1 if a.quick else 5)
    a.idle = a.idle or (1000 if a.quick else 5000)
    a.scale_rounds = a.scale_rounds or (1 if a.quick else 3)
    a.reload_routes = a.reload_routes or (500 if a.quick else 5000)
    a.retries = a.retries if a.retries is not None else (0 if a.quick else 2)
    return a


def _first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return ((r.stdout or r.stderr).strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine_meta(a):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    virt = _first_line(["systemd-detect-virt"])
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rev = _first_line(["git", "-C", repo, "describe", "--always", "--dirty"])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"), "quick": a.quick, "cpu_model": model,
        "ncpu": os.cpu_count(), "kernel": os.uname().release,
        "virt": "virtual machine (" + virt + ")" if virt not in ("none", "?") else "bare metal",
        "arus_version": _first_line([a.arus_bin, "-V"]).replace("arus-proxy", "").strip() + f" (git {rev})",
        "haproxy_version": " ".join(_first_line(["haproxy", "-v"]).replace("version ", "").split()[:2]),
        "nginx_version": _first_line(["nginx", "-v"]).replace("nginx version: ", ""),
        "wrk_version": " ".join(_first_line(["wrk", "-v"]).split()[:2]),
        "iperf_version": " ".join(_first_line(["iperf3", "-v"]).split()[:2]),
        "curl_version": " ".join(_first_line(["curl", "--version"]).split()[:2]),
        "proxy_cpu": a.proxy_cpu, "loadgen_cpu": a.loadgen_cpu, "rounds": a.rounds,
        "duration": a.duration, "idle_conns": a.idle, "large_mib": a.large_mib,
        "small_bytes": len(targets.SMALL_BODY), "max_foreign": a.max_foreign,
        "retries": a.retries, "loadavg_start": procs.loadavg(),
    }


class Bench:
    def __init__(self, a, work):
        self.a, self.work = a, work
        self.backends = targets.Backends(work, a.loadgen_cpu, a.port_base + 80, a.port_base + 1,
                                         a.large_mib)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        opts = {"arus_bin": a.arus_bin, "arus_base_bin": a.arus_base_bin, "plugin_dir": a.plugin_dir,
                "maxconn": max(1000, min(12000, (hard - 200) // 3))}
        self.targets = targets.make_targets(a.targets.split(","), work, a.proxy_cpu, a.port_base,
                                            self.backends, opts)
        self.samples = {t.name: {} for t in self.targets}
        # The scale test's own instances of its targets: HAProxy's maxconn must admit the
        # top level (the ports are the main targets', which are stopped by then).
        self.scale_levels = scale.parse_levels(a.scale_levels, a.quick, hard)
        # maxpipes: HAProxy reserves descriptors for maxconn / 4 pipes by default, which
        # at the top level would ask for more than the hard limit (it refuses to start);
        # 256 is what arus pools.
        scale_opts = dict(opts, maxconn=max(opts["maxconn"],
                                            self.scale_levels[-1] + scale.ACTIVE + 100),
                          maxpipes=256)
        self.scale_targets = targets.make_targets(
            [n for n in a.targets.split(",") if n in scale.SCALE_TARGETS], work, a.proxy_cpu,
            a.port_base, self.backends, scale_opts)
        self.scale = None
        self.reload = {}  # reload test: {run name: figures}
        self.errors = []
        self.rerun_spent = {}  # seconds of re-runs per test
        self.foreign_seen = []
        self.test_kinds = [x for x in TESTS if x in a.tests.split(",")] or TESTS

    def wait_quiet(self, limit, wait_s=10.0):
        """Before a re-run: waits (a bounded time) for a second of little foreign load."""
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            window = procs.LoadWindow()
            time.sleep(1.0)
            if window.finish()["foreign_cores"] <= limit:
                return

    def log(self, msg):
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def check_ports(self):
        ports = [self.backends.http_port, self.backends.pp_http_port, self.backends.iperf_port]
        for t in self.targets:
            if t.is_proxy:
                ports += [t.http_port, t.iperf_port]
        busy = [p for p in ports if not targets.port_free(p)]
        if busy:
            raise RuntimeError(f"ports in use: {busy}; pick another --port-base")

    def sanity(self, t):
        """Every target must relay the small response intact before we time it."""
        with socket.create_connection(("127.0.0.1", t.http_port), timeout=5) as s:
            s.sendall(b"GET /small HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            s.settimeout(5)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        if not data.endswith(targets.SMALL_BODY.encode()):
            raise RuntimeError(f"{t.label} did not relay the small response intact")

    def one(self, test, t):
        a, cpu = self.a, self.a.loadgen_cpu
        window = procs.LoadWindow()
        c0 = time.monotonic(), t.cpu_ns()
        if test == "iperf_up":
            res = loads.iperf(t, cpu, a.duration, reverse=False)
        elif test == "iperf_down":
            res = loads.iperf(t, cpu, a.duration, reverse=True)
        elif test == "download":
            res = loads.download(t, cpu, a.large_mib << 20)
        elif test == "keepalive":
            res = loads.wrk(t, cpu, a.duration, 64, close=False)
        else:
            res = loads.wrk(t, cpu, a.duration, 64, close=True)
        res["wall_s"] = time.monotonic() - c0[0]
        res["cpu_s"] = (t.cpu_ns() - c0[1]) / 1e9
        res.update({k: v for k, v in window.finish().items() if k != "wall_s"})
        if not t.alive():
            raise loads.MeasureError(f"{t.label} exited during {test}")
        return res

    def disturbed_above(self):
        """Foreign load (cores) above which a run counts as disturbed: --max-foreign, or
        the machine's usual background (median so far) plus 0.25 core when that is higher:
        a steady background hits every target alike, a burst hits one."""
        seen = sorted(self.foreign_seen)
        background = seen[len(seen) // 2] if len(seen) >= 3 else 0.0
        return max(self.a.max_foreign, background + 0.25)

    def measure(self, test, t):
        best, reruns, failures = None, 0, 0
        budget = self.a.rerun_budget / len(self.test_kinds)  # each test gets its share
        while failures < 2:
            try:
                res = self.one(test, t)
            except loads.MeasureError as e:
                failures += 1
                self.log(f"  {test} {t.label}: {e}")
                if test.startswith("iperf"):
                    self.backends.restart_iperf()
                if not t.alive():
                    t.stop()
                    t.start()
                continue
            self.foreign_seen.append(res["foreign_cores"])
            if best is None or res["foreign_cores"] < best["foreign_cores"]:
                best = res
            limit = self.disturbed_above()
            if res["foreign_cores"] <= limit:
                break
            spent = self.rerun_spent.get(test, 0.0)
            if reruns >= self.a.retries or spent >= budget:
                break
            reruns += 1
            self.log(f"  {test} {t.label}: foreign load {res['foreign_cores']} > {limit:.2f} "
                     "cores, re-run")
            t0 = time.monotonic()
            self.wait_quiet(limit)
            self.rerun_spent[test] = spent + res["wall_s"] + time.monotonic() - t0
        if best is None:
            self.errors.append(f"{test} through {t.label}: no successful run")
            return
        best["reruns"] = reruns
        best["disturbed"] = best["foreign_cores"] > self.disturbed_above()
        self.samples[t.name].setdefault(test, []).append(best)
        self.log(f"  {test:10s} {t.label:22s} " + _summary(test, best))

    def run(self):
        self.check_ports()
        self.backends.prepare()
        self.backends.start()
        for t in self.targets:
            t.start()
            self.sanity(t)
        direct = targets.Target("warm", "warm", "direct", self.work, 0, None, self.backends, {})
        loads.download(direct, self.a.loadgen_cpu, self.a.large_mib << 20)  # page cache
        for _ in range(3):  # the machine's background load, before any test
            window = procs.LoadWindow()
            time.sleep(1.0)
            self.foreign_seen.append(window.finish()["foreign_cores"])
        self.log(f"background foreign load: {sorted(self.foreign_seen)} cores")
        tests = self.a.tests.split(",")
        for test in [x for x in TESTS if x in tests]:
            for r in range(self.a.rounds):
                self.log(f"{test}: round {r + 1}/{self.a.rounds}")
                for t in self.targets:
                    if t.tests is None or test in t.tests:
                        self.measure(test, t)
        if "idle" in tests:
            self.idle_tests()
        if "scale" in tests and self.scale_targets:
            for t in self.targets:
                t.stop()
            self.scale = scale.run(self, self.scale_levels, self.a.scale_rounds)
        if "reload" in tests:
            self.reload_tests()

    def idle_tests(self):
        for t in self.targets:
            t.stop()
        for r in range(self.a.rounds):
            self.log(f"idle: round {r + 1}/{self.a.rounds}")
            for t in [t for t in self.targets if t.tests is None or "idle" in t.tests]:
                t.start()
                try:
                    window = procs.LoadWindow()
                    res = idle.measure(t, self.a.idle, self.backends.http_port)
                    res.update(window.finish())
                    res["reruns"] = 0
                    self.samples[t.name].setdefault("idle", []).append(res)
                    self.log(f"  idle       {t.label:22s} " + _summary("idle", res))
                except (RuntimeError, OSError) as e:
                    self.errors.append(f"idle connections through {t.label}: {e}")
                    self.log(f"  idle {t.label}: {e}")
                finally:
                    t.stop()

    def reload_tests(self):
        """Reload at scale, once per kind of target that can run it (not in rounds: one
        run is 20 reloads)."""
        for t in self.targets:
            t.stop()  # the CPUs to this test alone
        a = self.a
        reloads = reload_scale.ReloadScale(
            self.work, a.proxy_cpu, a.loadgen_cpu, a.port_base, self.backends.http_port,
            a.reload_routes, a.reloads, 3 if a.quick else 10, self.log)
        names = [t.name for t in self.targets]
        runs = []
        if "arus" in names:
            runs.append(("arus", lambda: reloads.run_arus(a.arus_bin, 1)))
            # Each worker has a listening socket per route: 5,000 routes on two workers
            # take 10,000 descriptors, and a reload binds new routes' sockets beside them.
            if 2 * a.reload_routes + 1000 <= resource.getrlimit(resource.RLIMIT_NOFILE)[0]:
                runs.append(("arus-2w", lambda: reloads.run_arus(a.arus_bin, 2)))
            else:
                self.log("reload: arus with 2 workers skipped: the descriptor limit is too low")
        if "arus-base" in names:
            runs.append(("arus-base", lambda: reloads.run_arus(a.arus_base_bin, 1)))
        if "haproxy" in names:
            runs.append(("haproxy", reloads.run_haproxy))
        for name, run in runs:
            self.log(f"reload: {name}, {a.reload_routes} routes, {a.reloads} reloads")
            try:
                res = run()
            except (loads.MeasureError, RuntimeError, OSError) as e:
                self.errors.append(f"reload at scale through {name}: {e}")
                self.log(f"  reload {name}: {e}")
                continue
            res["routes"] = a.reload_routes
            self.reload[name] = res
            self.log(f"  reload     {name:22s} " + reload_scale.summary(res))

    def stop(self):
        for t in self.targets + self.scale_targets:
            t.stop()
        self.backends.stop()


def _summary(test, r):
    if test.startswith("iperf"):
        s = f"{r['gbps']:.2f} Gbit/s"
    elif test == "download":
        s = f"{r['mbps']:.0f} MB/s"
    elif test == "idle":
        rss = r["rss_per_conn_b"]
        return (f"rss/conn {'-' if rss is None else f'{rss:.0f} B'}, "
                f"slab/conn {r['slab_per_conn_b']:.0f} B, foreign {r['foreign_cores']}")
    else:
        s = f"{r['rps']:.0f} req/s p99 {r.get('p99_ms', 0):.2f} ms"
    return s + f", proxy cpu {r['cpu_s']:.2f} s, foreign {r['foreign_cores']} cores"


def write_outputs(a, res):
    figs, labels, order, meta = res["figures"], res["labels"], res["order"], res["meta"]
    for path in (a.md, a.svg):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    title = f"arus-proxy vs HAProxy and nginx, {meta['date']}" + (" (QUICK)" if meta["quick"] else "")
    with open(a.svg, "w") as f:
        f.write(svg.render(figs, labels, order, title))
    rel = os.path.relpath(os.path.abspath(a.svg), os.path.dirname(os.path.abspath(a.md)))
    with open(a.md, "w") as f:
        f.write(report.render(res, rel))


def main(argv):
    a = parse_args(argv)
    if a.render:
        with open(a.render) as f:
            res = json.load(f)
        for name in res["order"]:  # figures are derived again: the code may be newer
            res["figures"][name] = figures.derive(res["samples"][name], name != "direct")
        figures.add_kernel_share(res["figures"])
        write_outputs(a, res)
        return 0
    t_start = time.monotonic()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.sched_setaffinity(0, {a.loadgen_cpu})
    work = a.work or tempfile.mkdtemp(prefix="arus-bench-")
    os.makedirs(work, exist_ok=True)
    meta = machine_meta(a)
    bench = Bench(a, work)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        bench.run()
    finally:
        bench.stop()
        procs.stop_all()
    meta["elapsed_s"] = time.monotonic() - t_start
    meta["loadavg_end"] = procs.loadavg()
    meta["rerun_budget"] = a.rerun_budget
    meta["rerun_spent"] = round(sum(bench.rerun_spent.values()))
    figs = {t.name: figures.derive(bench.samples[t.name], t.is_proxy) for t in bench.targets}
    figures.add_kernel_share(figs)
    labels = {t.name: t.label for t in bench.targets}
    order = [t.name for t in bench.targets]
    res = {"meta": meta, "figures": figs, "labels": labels, "order": order,
           "samples": bench.samples, "errors": bench.errors, "reload": bench.reload}
    if bench.scale:
        res["scale"] = bench.scale
    if a.micro:
        res["micro"] = micro.load(a.micro)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
    write_outputs(a, res)
    bench.log(f"done in {meta['elapsed_s']:.0f} s: {a.md}, {a.svg}, {a.json}")
    for g in figures.goals(figs, figures.rounds_by_target(bench.samples)):
        r = "-" if g["ratio"] is None else f"{g['ratio']:.2f}x"
        state = {None: "n/a", True: "met", False: "NOT met"}[g["met"]]
        print(f"  {state:8s} {r:>7s}  {g['goal']}  (met in {g['rounds_met']} of {g['rounds']} rounds)")
    if a.work is None:
        subprocess.run(["rm", "-rf", work], check=False)
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
