#!/usr/bin/env python3
"""arus's filter path beside the floor of any user-space relay (docs/performance.md, "The
filter path"). In one run, alternating, pinned like bench.py (proxies on --proxy-cpu,
iperf3 client and server on --loadgen-cpu), iperf3 through: arus on a route without a
filter (splice), on one with bench/passthrough.c (forwarding) and on one with
bench/passthrough_copy.c (copying), and bench/copy_relay.c in its three
modes (copy: read, memcpy, send, the least a filter path can do; tee: a pass-through's
output sent by splice; splice). Prints, per target, Gbit/s, proxy CPU seconds per GB and
the throughput as a ratio to arus splice in the same round (median and range). A
measurement, not a test. --arus-base-bin runs another build (main's) beside, on the same
routes, as "base ..." targets.

  ARUS_BIN=build/arus-proxy python3 bench/filter_floor.py [--rounds 5] [--seconds 3]
      [--reverse] [--port-base 29500] [--arus-base-bin PATH] [--no-c-relay]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arusbench import loads, procs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


class Target:
    def __init__(self, name, port, proc):
        self.name, self.iperf_port, self.proc = name, port, proc


def build(work):
    relay = os.path.join(work, "copy_relay")
    subprocess.run(["cc", "-O2", "-Wall", "-pthread", os.path.join(HERE, "copy_relay.c"),
                    "-o", relay], check=True)
    for name in ("passthrough", "passthrough_copy"):
        subprocess.run(["cc", "-std=c99", "-O2", "-fPIC", "-shared", "-I",
                        os.path.join(REPO, "include"), os.path.join(HERE, f"{name}.c"),
                        "-o", os.path.join(work, f"{name}.so")], check=True)
    os.chmod(work, 0o755)
    return relay


# filter: the pass-through that forwards (ARUS_FILTER_FORWARD; it copies on a build
# without it); filter-copy: the one that copies to `out`.
ARUS_ROUTES = (("splice", 0, ""), ("filter", 1, "filter = passthrough.so\n"),
               ("filter-copy", 2, "filter = passthrough_copy.so\n"))


def arus_config(work, base, backend, name="arus"):
    routes = "".join(f"""
[route:{route}]
listen = 127.0.0.1:{base + offset}
backend = 127.0.0.1:{backend}
{extra}idle_timeout_ms = 600000
""" for route, offset, extra in ARUS_ROUTES)
    path = os.path.join(work, f"{name}.conf")
    with open(path, "w") as f:
        f.write(f"[global]\nworkers = 1\nlog_level = warn\nplugin_dir = {work}\n{routes}")
    return path


def cpu_seconds(pid):
    """utime + stime of a process, exited threads included (copy_relay's threads end with
    their connection, and schedstat forgets them)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_listening(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            if any(line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
                   for line in f.readlines()[1:]):
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def iperf_when_free(target, a, tries=10):
    """iperf3 through target; the server may still be ending the previous test (the
    proxy closes its backend side a moment after the client left) and then turns the
    next one away (busy, or a reset of the control connection): wait and try again."""
    for _ in range(tries - 1):
        try:
            return loads.iperf(target, a.loadgen_cpu, a.seconds, a.reverse)
        except loads.MeasureError as e:
            if "busy" not in str(e) and "control" not in str(e):
                raise
            print(f"{target.name}: {e}; again", file=sys.stderr)
            time.sleep(0.5)
    return loads.iperf(target, a.loadgen_cpu, a.seconds, a.reverse)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arus-bin", default=os.environ.get("ARUS_BIN",
                                                        os.path.join(REPO, "build/arus-proxy")))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=int, default=3)
    p.add_argument("--reverse", action="store_true", help="iperf3 -R (server to client)")
    p.add_argument("--port-base", type=int, default=29500)
    p.add_argument("--proxy-cpu", type=int, default=1)
    p.add_argument("--loadgen-cpu", type=int, default=0)
    p.add_argument("--arus-base-bin", default=None,
                   help="another build (main's) run beside on the same routes")
    p.add_argument("--no-c-relay", action="store_true", help="leave copy_relay out")
    a = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="arus-floor.") as work:
        relay = build(work)
        log = os.path.join(work, "log")
        backend = a.port_base
        procs.spawn(["iperf3", "-s", "-p", str(backend)], a.loadgen_cpu, log)
        targets = []
        builds = [("arus", a.arus_bin, a.port_base + 1)]
        if a.arus_base_bin:
            builds.append(("base", a.arus_base_bin, a.port_base + 10))
        for label, binary, first_port in builds:
            proc = procs.spawn([binary, "-c", arus_config(work, first_port, backend, label),
                                "-w", "1", "-l", "warn"], a.proxy_cpu, log)
            for route, offset, _ in ARUS_ROUTES:
                targets.append(Target(f"{label} {route}", first_port + offset, proc))
        for i, mode in enumerate(() if a.no_c_relay else ("copy", "tee", "splice")):
            port = a.port_base + 4 + i
            proc = procs.spawn([relay, mode, str(port), str(backend)], a.proxy_cpu, log)
            targets.append(Target(f"C relay, {mode}", port, proc))
        try:
            for t in targets:
                wait_listening(t.iperf_port)
            rows = {t.name: [] for t in targets}
            for r in range(a.rounds):
                for t in targets:
                    before = cpu_seconds(t.proc.pid)
                    res = iperf_when_free(t, a)
                    cpu_s = cpu_seconds(t.proc.pid) - before
                    rows[t.name].append((res["gbps"], cpu_s / (res["bytes"] / 1e9)))
                print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
        finally:
            procs.stop_all()

    splice = [g for g, _ in rows["arus splice"]]
    print(f"iperf3 {'server->client' if a.reverse else 'client->server'}, "
          f"{a.rounds} rounds of {a.seconds} s")
    print(f"{'target':18s} {'Gbit/s':>6s}  {'CPU s/GB':>8s}  ratio to arus splice (range)")
    for name, vals in rows.items():
        gbps = [g for g, _ in vals]
        cpu = [c for _, c in vals]
        ratio = [g / s for g, s in zip(gbps, splice)]
        print(f"{name:18s} {statistics.median(gbps):6.2f}  {statistics.median(cpu):8.3f}  "
              f"{statistics.median(ratio):.2f} ({min(ratio):.2f}-{max(ratio):.2f})")


if __name__ == "__main__":
    main()
