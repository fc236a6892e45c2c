#!/usr/bin/env python3
# Apart from `make bench`: does RSS keep growing over many reloads, or plateau?
# Starts arus-proxy with the reload-at-scale configuration (arusbench/reload_scale.py:
# N routes of two literal backends, plus route "loaded" to a local backend that accepts
# and holds), optionally opens --hold connections on the first generation, rewrites the
# file --reloads times (3 routes' backends changed each time), and prints VmRSS after
# each `reloaded` line; at the end closes the held connections and prints RSS again.
# --malloc-stats adds glibc's malloc_stats() (called through gdb) at reloads 1, 10 and
# the last, into the proxy's log (docs/performance.md, "Reload at scale").
#   ARUS_BIN=build/arus-proxy python3 bench/reload_rss.py --reloads 100 [--hold 64]
import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arusbench import reload_scale as rs  # noqa: E402


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", default=os.environ.get("ARUS_BIN", "build/arus-proxy"))
    ap.add_argument("--routes", type=int, default=5000)
    ap.add_argument("--reloads", type=int, default=50)
    ap.add_argument("--hold", type=int, default=0,
                    help="connections held on the first generation through the reloads")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--port-base", type=int, default=21000)
    ap.add_argument("--dir", default="build/bench/reload-rss")
    ap.add_argument("--malloc-stats", action="store_true")
    a = ap.parse_args()

    os.makedirs(a.dir, exist_ok=True)
    conf, log_path = os.path.join(a.dir, "arus.conf"), os.path.join(a.dir, "arus.log")
    open(log_path, "w").close()
    ports = rs.scale_ports(a.port_base, a.routes)
    loaded, backend_port = a.port_base + 90, a.port_base + 91

    backend = socket.socket()
    backend.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    backend.bind(("127.0.0.1", backend_port))
    backend.listen(1024)
    accepted = []

    def accept_all():
        while True:
            try:
                accepted.append(backend.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_all, daemon=True).start()

    def config(n):
        return rs.arus_config(ports, loaded, backend_port, a.workers, n)

    rs._write_atomic(conf, config(0))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([a.bin, "-c", conf, "-w", str(a.workers), "-l", "info"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)

    def malloc_stats(tag):
        if not a.malloc_stats:
            return
        with open(log_path, "a") as f:
            f.write(f"=== malloc_stats {tag}\n")
        subprocess.run(["gdb", "-p", str(proc.pid), "-batch", "-ex", "call (void)malloc_stats()"],
                       capture_output=True, timeout=120)

    held = []
    try:
        tail = rs._LogTail(log_path)
        tail.wait_for(r" started ", 120)
        rs._wait_accepting(rs.SCALE_ADDRESS, ports[-1], proc, 120)
        held = [socket.create_connection(("127.0.0.1", loaded)) for _ in range(a.hold)]
        time.sleep(0.3)
        start = vm_rss_kib(proc.pid)
        print(f"before: {start} KiB", flush=True)
        malloc_stats("before")
        for n in range(1, a.reloads + 1):
            tail.skip()
            rs._write_atomic(conf, config(n))
            m, _ = tail.wait_for(r"reloaded .*duration_ms=(\d+)", 120)
            time.sleep(0.05)  # the trim after adoption runs on the control thread
            rss = vm_rss_kib(proc.pid)
            print(f"reload {n}: duration_ms {m.group(1)}, RSS {rss} KiB ({rss - start:+} KiB, "
                  f"{rss / start - 1:+.1%})", flush=True)
            if n in (1, 10, a.reloads):
                malloc_stats(f"after reload {n}")
        for s in held + accepted:
            s.close()
        time.sleep(1.0)  # the first generation goes with its last connection
        rss = vm_rss_kib(proc.pid)
        print(f"held connections closed: RSS {rss} KiB ({rss - start:+} KiB, "
              f"{rss / start - 1:+.1%})", flush=True)
        malloc_stats("closed")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        backend.close()


if __name__ == "__main__":
    main()
