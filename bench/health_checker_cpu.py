#!/usr/bin/env python3
"""CPU of the health checker thread with many backends (docs/performance.md, "Active
health checks"): N backends (127.0.0.1.. 127.0.x.y, all one redis-server bound to
0.0.0.0), health_check = redis every INTERVAL ms; samples utime+stime of the thread named
arus-health from /proc/PID/task/TID/stat over a window. A measurement, not a test.

  ARUS_BIN=build/arus-proxy python3 bench/health_checker_cpu.py [--backends 1000]
      [--interval-ms 1000] [--seconds 30]
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", type=int, default=1000)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    binary = os.environ.get("ARUS_BIN", "build/arus-proxy")
    redis_bin = shutil.which("redis-server") or sys.exit("redis-server is missing")
    work = tempfile.mkdtemp(prefix="arus-health-bench-")
    redis_port, stats_port, listen_port = free_port(), free_port(), free_port()
    redis = subprocess.Popen([redis_bin, "--port", str(redis_port), "--bind", "0.0.0.0",
                              "--protected-mode", "no", "--save", "", "--appendonly", "no",
                              "--daemonize", "no", "--maxclients", "10000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    proxy = None
    try:
        wait_port(redis_port)
        backends = [f"127.0.{1 + i // 250}.{1 + i % 250}:{redis_port}"
                    for i in range(args.backends)]
        conf = os.path.join(work, "proxy.conf")
        with open(conf, "w") as f:
            f.write(f"[global]\nworkers = 1\nstats_listen = 127.0.0.1:{stats_port}\n"
                    f"log_level = warn\n\n[route:many]\nlisten = 127.0.0.1:{listen_port}\n")
            f.writelines(f"backend = {b}\n" for b in backends)
            f.write(f"health_check = redis\nhealth_check_interval_ms = {args.interval_ms}\n"
                    f"health_check_timeout_ms = {max(1, args.interval_ms // 2)}\n")
        proxy = subprocess.Popen([binary, "-c", conf], stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(work, "proxy.log"), "w"))
        wait_port(stats_port)
        time.sleep(3 * args.interval_ms / 1000)  # past the burst at start: spread checks
        hz = os.sysconf("SC_CLK_TCK")
        t0, c0, p0 = time.monotonic(), thread_ticks(proxy.pid, "arus-health"), process_ticks(proxy.pid)
        time.sleep(args.seconds)
        t1, c1, p1 = time.monotonic(), thread_ticks(proxy.pid, "arus-health"), process_ticks(proxy.pid)
        metrics = subprocess.run(["curl", "-s", f"http://127.0.0.1:{stats_port}/metrics"],
                                 capture_output=True, text=True).stdout
        ok = sum(float(l.split()[-1]) for l in metrics.splitlines()
                 if l.startswith("arus_health_checks_total{") and 'result="ok"' in l)
        fail = sum(float(l.split()[-1]) for l in metrics.splitlines()
                   if l.startswith("arus_health_checks_total{") and 'result="fail"' in l)
        wall = t1 - t0
        print(f"backends={args.backends} interval_ms={args.interval_ms} window_s={wall:.1f}")
        user = 100 * (c1[0] - c0[0]) / hz / wall
        system = 100 * (c1[1] - c0[1]) / hz / wall
        print(f"checker thread CPU: {user + system:.2f} % of one core "
              f"(user {user:.2f} %, system {system:.2f} %)")
        print(f"whole process CPU:  {100 * (p1 - p0) / hz / wall:.2f} % of one core")
        print(f"checks so far: ok={ok:.0f} fail={fail:.0f}")
    finally:
        if proxy:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(10)
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
