#!/usr/bin/env python3
"""CPU of the health checker thread with many backends (docs/performance.md, "Active
health checks"): N backends, all one redis-server bound to 0.0.0.0, health_check = redis
every INTERVAL ms; samples utime+stime of the thread named arus-health from
/proc/PID/task/TID/stat over a window. A measurement, not a test.

  ARUS_BIN=build/arus-proxy python3 bench/health_checker_cpu.py [--backends 1000]
      [--interval-ms 1000] [--seconds 30] [--netns [--rps]] [--floor]

Backends are 127.0.x.y on loopback, or with --netns (root) 10.201.x.y in a network
namespace of this run's own, reached over a veth pair: the local routes 10.201.1-4.0/24
make every such address the namespace's own. On loopback and on a plain veth the kernel
does the receiving side's work (the backend's too) in the sending thread, so it is
charged to the checker; --rps pins the proxy to CPU 0 and steers both ends' receive work
to CPU 1, as a NIC's interrupts would on a host whose backends are other machines.
--floor also times health_check_floor.c, the same checks with the fewest system calls,
against the same backends.
"""
import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NETNS_HOST_ADDRESS = "10.201.0.1"
NETNS_PEER_ADDRESS = "10.201.0.2"
PROXY_CPU, RECEIVE_CPU = 0, 1  # --rps


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {host}:{port}")


def backend_hosts(prefix, count):
    # The same addresses health_check_floor.c derives from its A.B argument.
    return [f"{prefix}.{1 + i // 250}.{1 + i % 250}" for i in range(count)]


def thread_ticks(pid, name):
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        return int(fields[11]), int(fields[12])
    raise SystemExit(f"no thread named {name} in {pid}")


def process_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def run_ip(*words):
    subprocess.run(["ip", *words], check=True)


@contextlib.contextmanager
def backend_namespace(backends, rps):
    """A network namespace holding 10.201.1.0/24.. (as many /24s as the backends need),
    reached from here over a veth pair; both removed on leaving, whatever happened."""
    tag = f"{os.getpid()}{secrets.token_hex(2)}"
    netns, host_end, peer_end = f"arus-hc-{tag}", f"arh{tag}", f"arn{tag}"
    created = False
    try:
        run_ip("netns", "add", netns)
        created = True
        run_ip("link", "add", host_end, "type", "veth", "peer", "name", peer_end,
               "netns", netns)
        run_ip("addr", "add", f"{NETNS_HOST_ADDRESS}/24", "dev", host_end)
        run_ip("link", "set", host_end, "up")
        run_ip("-n", netns, "addr", "add", f"{NETNS_PEER_ADDRESS}/24", "dev", peer_end)
        run_ip("-n", netns, "link", "set", peer_end, "up")
        run_ip("-n", netns, "link", "set", "lo", "up")
        for block in range(1, 2 + (backends - 1) // 250):
            run_ip("-n", netns, "route", "add", "local", f"10.201.{block}.0/24", "dev", "lo")
        try:
            run_ip("route", "add", "10.201.0.0/16", "via", NETNS_PEER_ADDRESS, "dev", host_end)
        except subprocess.CalledProcessError:
            raise SystemExit("10.201.0.0/16 is routed already (another --netns run?)")
        if rps:
            mask = format(1 << RECEIVE_CPU, "x")
            for prefix, device in ((), host_end), (("ip", "netns", "exec", netns), peer_end):
                subprocess.run([*prefix, "sh", "-c",
                                f"echo {mask} > /sys/class/net/{device}/queues/rx-0/rps_cpus"],
                               check=True)
        yield netns
    finally:
        if created:
            subprocess.run(["ip", "netns", "del", netns], stderr=subprocess.DEVNULL)
        # Deleting the namespace deletes the pair; this is for a run stopped half-way.
        subprocess.run(["ip", "link", "del", host_end], stderr=subprocess.DEVNULL)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_counts(stats_port):
    metrics = subprocess.run(["curl", "-s", f"http://127.0.0.1:{stats_port}/metrics"],
                             capture_output=True, text=True).stdout
    counts = {"ok": 0.0, "fail": 0.0}
    for line in metrics.splitlines():
        for result in counts:
            if line.startswith("arus_health_checks_total{") and f'result="{result}"' in line:
                counts[result] += float(line.split()[-1])
    return counts


def cpu_percent(ticks, hz, wall):
    return 100 * ticks / hz / wall


def measure_checker(args, work, backends, redis_port, pin):
    stats_port, listen_port = free_port(), free_port()
    conf = os.path.join(work, "proxy.conf")
    with open(conf, "w") as f:
        f.write(f"[global]\nworkers = 1\nstats_listen = 127.0.0.1:{stats_port}\n"
                f"log_level = warn\n\n[route:many]\nlisten = 127.0.0.1:{listen_port}\n")
        f.writelines(f"backend = {host}:{redis_port}\n" for host in backends)
        f.write(f"health_check = redis\nhealth_check_interval_ms = {args.interval_ms}\n"
                f"health_check_timeout_ms = {max(1, args.interval_ms // 2)}\n")
    binary = os.environ.get("ARUS_BIN", "build/arus-proxy")
    with open(os.path.join(work, "proxy.log"), "w") as log:
        proxy = subprocess.Popen([*pin, binary, "-c", conf], stdout=subprocess.DEVNULL,
                                 stderr=log)
    try:
        wait_port("127.0.0.1", stats_port)
        time.sleep(3 * args.interval_ms / 1000)  # past the burst at start: spread checks
        hz = os.sysconf("SC_CLK_TCK")
        counts0 = check_counts(stats_port)
        t0, c0 = time.monotonic(), thread_ticks(proxy.pid, "arus-health")
        p0 = process_ticks(proxy.pid)
        time.sleep(args.seconds)
        t1, c1 = time.monotonic(), thread_ticks(proxy.pid, "arus-health")
        p1 = process_ticks(proxy.pid)
        counts1 = check_counts(stats_port)
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(10)
    wall = t1 - t0
    user = cpu_percent(c1[0] - c0[0], hz, wall)
    system = cpu_percent(c1[1] - c0[1], hz, wall)
    print(f"checker thread CPU: {user + system:.2f} % of one core "
          f"(user {user:.2f} %, system {system:.2f} %) over {wall:.1f} s")
    print(f"whole process CPU:  {cpu_percent(p1 - p0, hz, wall):.2f} % of one core")
    ok, fail = (counts1[r] - counts0[r] for r in ("ok", "fail"))
    per_check = (user + system) / 100 * wall / max(1.0, ok + fail) * 1e6
    print(f"checks in the window: ok={ok:.0f} fail={fail:.0f} ({(ok + fail) / wall:.0f}/s, "
          f"{per_check:.0f} us of the thread's CPU each)")


def measure_floor(args, work, prefix, redis_port, pin):
    program = os.path.join(work, "health_check_floor")
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra",
                    os.path.join(HERE, "health_check_floor.c"), "-o", program], check=True)
    done = subprocess.run([*pin, program, prefix, str(redis_port), str(args.backends),
                           str(args.interval_ms), str(args.seconds)],
                          capture_output=True, text=True)
    print(done.stdout.strip() or done.stderr.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", type=int, default=1000)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--netns", action="store_true",
                    help="backends in a network namespace over a veth pair (root)")
    ap.add_argument("--rps", action="store_true",
                    help="with --netns: proxy on CPU 0, receive work steered to CPU 1")
    ap.add_argument("--floor", action="store_true",
                    help="also time health_check_floor.c against the same backends")
    args = ap.parse_args()
    if not 1 <= args.backends <= 250 * 250:
        ap.error("--backends: 1 to 62500")
    if args.rps and not args.netns:
        ap.error("--rps needs --netns")
    if args.rps and os.cpu_count() < 2:
        ap.error("--rps needs two CPUs")
    redis_bin = shutil.which("redis-server") or sys.exit("redis-server is missing")
    # A plain `kill` must clean up too: leave through the with-blocks below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    with contextlib.ExitStack() as stack:
        work = tempfile.mkdtemp(prefix="arus-health-bench-")
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        enter_netns, prefix, pin, redis_pin = [], "127.0", [], []
        if args.netns:
            netns = stack.enter_context(backend_namespace(args.backends, args.rps))
            enter_netns, prefix = ["ip", "netns", "exec", netns], "10.201"
        if args.rps:
            pin = ["taskset", "-c", str(PROXY_CPU)]
            redis_pin = ["taskset", "-c", str(RECEIVE_CPU)]
        redis_port = free_port()
        redis = subprocess.Popen(
            [*enter_netns, *redis_pin, redis_bin, "--port", str(redis_port), "--bind",
             "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--maxclients", "10000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
        stack.callback(stop, redis)
        backends = backend_hosts(prefix, args.backends)
        wait_port(backends[0], redis_port)
        print(f"backends={args.backends} ({prefix}.x.y"
              f"{', network namespace over veth' if args.netns else ', loopback'}"
              f"{', receive work on CPU %d' % RECEIVE_CPU if args.rps else ''}) "
              f"interval_ms={args.interval_ms}")
        measure_checker(args, work, backends, redis_port, pin)
        if args.floor:
            measure_floor(args, work, prefix, redis_port, pin)


if __name__ == "__main__":
    main()
