# Memory per idle connection: N client connections held open, with no bytes, through a
# freshly started target; the proxy's RSS growth, its descriptors, and the kernel's slab.
# Single-threaded; the client sockets live in this process.
import socket
import time

from . import procs

BATCH = 250


def _established_to(port):
    """ESTABLISHED IPv4 TCP sockets whose remote port is `port` (proxy -> backend legs)."""
    count = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split(None, 4)
            if parts[3] == "01" and int(parts[2].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def _sockstat_tcp_pages():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
    return 0


def wait_count(port, want, deadline_s, count=None, poll_s=0.02):
    """Polls `count(port)` (default: established connections to it) until it reaches
    `want` or the deadline passes; returns the last count."""
    count = count or _established_to
    end = time.monotonic() + deadline_s
    n = count(port)
    while n < want and time.monotonic() < end:
        time.sleep(poll_s)
        n = count(port)
    return n


def measure(target, n_conns, backend_port):
    """Opens n_conns idle connections through `target` (already freshly started)."""
    time.sleep(0.3)
    base_rss = procs.rss_kib(target.pids)
    base_fds = procs.fd_kinds(target.pids)
    base_est = _established_to(backend_port)
    base_slab = procs.meminfo_kib("Slab")
    base_tcp_pages = _sockstat_tcp_pages()
    clients = []
    try:
        while len(clients) < n_conns:
            for _ in range(min(BATCH, n_conns - len(clients))):
                s = socket.socket()
                s.settimeout(5)
                s.connect(("127.0.0.1", target.http_port))
                clients.append(s)
            # Let the target accept and connect on before the next batch, so no backlog
            # overflows and every connection is really relayed to the backend.
            got = wait_count(backend_port, base_est + len(clients), 15)
            if got < base_est + len(clients):
                raise RuntimeError(f"{target.label}: only {got - base_est} of {len(clients)} "
                                   "idle connections reached the backend")
        time.sleep(0.5)
        if not target.alive():
            raise RuntimeError(f"{target.label} died holding idle connections")
        rss = procs.rss_kib(target.pids)
        fds = procs.fd_kinds(target.pids)
        slab = procs.meminfo_kib("Slab")
        tcp_pages = _sockstat_tcp_pages()
    finally:
        for s in clients:
            s.close()
    n = float(n_conns)
    return {
        "rss_base_kib": base_rss,
        "rss_kib": rss,
        "rss_per_conn_b": (rss - base_rss) * 1024 / n if target.is_proxy else None,
        "sockets_per_conn": (fds[0] - base_fds[0]) / n if target.is_proxy else None,
        "pipes_per_conn": (fds[1] - base_fds[1]) / n if target.is_proxy else None,
        "slab_per_conn_b": (slab - base_slab) * 1024 / n,
        "tcp_mem_pages": tcp_pages - base_tcp_pages,
    }
