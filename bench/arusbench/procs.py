# Process plumbing for the benchmark: start pinned processes, end them by PID, read
# their CPU time and memory from /proc, and measure foreign load on the shared machine.
# Single-threaded: the orchestrator calls these one at a time.
import os
import resource
import signal
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
_started = []  # every Popen we made, ended in stop_all()
# run.sh's exit trap ends the process groups still listed here, should this process be
# killed before its own clean-up runs.
_PID_FILE = os.environ.get("ARUS_BENCH_PIDS")


def _record_pids():
    if _PID_FILE:
        with open(_PID_FILE, "w") as f:
            f.write("".join(f"{p.pid}\n" for p in _started))


def spawn(cmd, cpu, log_path, env=None):
    """Starts cmd pinned to `cpu` with taskset, in its own process group."""
    full = ["taskset", "-c", str(cpu)] + list(cmd)
    log = open(log_path, "ab")
    proc = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    log.close()
    _started.append(proc)
    _record_pids()
    return proc


def stop(proc, grace=5.0):
    """Ends one process we started (its own process group: nginx's workers too)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=grace)
    else:
        # The leader is gone, but children it forked (nginx workers) may live on.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc in _started:
        _started.remove(proc)
        _record_pids()


def stop_all():
    for proc in list(_started):
        try:
            stop(proc, grace=3.0)
        except Exception:  # noqa: BLE001 - cleanup goes on for the others
            pass


def run(cmd, cpu, timeout):
    """Runs a load generator pinned to `cpu`; returns (rc, stdout, stderr, wall seconds)."""
    full = ["taskset", "-c", str(cpu)] + list(cmd)
    t0 = time.monotonic()
    proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return -1, out.decode(errors="replace"), "timeout\n" + err.decode(errors="replace"), \
            time.monotonic() - t0
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), \
        time.monotonic() - t0


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _stat_fields(pid):
    """(ppid, utime+stime ticks) of a process, or None when it is gone."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    rest = text[text.rfind(")") + 2:].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def children(pid):
    """Direct children of pid (nginx's workers)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields and fields[0] == pid:
                out.append(int(name))
    return out


def tree(pid):
    return [pid] + children(pid)


def _proc_entries(pid, folder):
    """Names in /proc/PID/FOLDER (task, fd); none once the process is gone."""
    try:
        return os.listdir(f"/proc/{pid}/{folder}")
    except OSError:
        return []


def cpu_ns(pids):
    """On-CPU nanoseconds of every thread of pids (schedstat: exact, user + system)."""
    total = 0
    for pid in pids:
        for tid in _proc_entries(pid, "task"):
            text = _read(f"/proc/{pid}/task/{tid}/schedstat")
            if text:
                total += int(text.split()[0])
    return total


def rss_kib(pids):
    total = 0
    for pid in pids:
        for line in _read(f"/proc/{pid}/status").splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def fd_kinds(pids):
    """Counts of socket and pipe descriptors held by pids."""
    sockets = pipes = 0
    for pid in pids:
        for name in _proc_entries(pid, "fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if target.startswith("socket:"):
                sockets += 1
            elif target.startswith("pipe:"):
                pipes += 1
    return sockets, pipes


def meminfo_kib(key):
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _cpu_line():
    fields = [int(x) for x in _read("/proc/stat").splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq, steal


def _snapshot():
    """Ticks per pid: ours (descendants of this process) and kernel threads."""
    me = os.getpid()
    parent = {}
    ticks = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields:
                parent[int(name)] = fields[0]
                ticks[int(name)] = fields[1]
    ours, kernel = {}, {}
    for pid, t in ticks.items():
        if pid == 2 or parent.get(pid) == 2:
            kernel[pid] = t
            continue
        p, hops = pid, 0
        while p in parent and p != me and p > 1 and hops < 64:
            p, hops = parent[p], hops + 1
        if p == me and pid != me:
            ours[pid] = t
    return ours, kernel


class LoadWindow:
    """Foreign load over a window: CPU busy on the machine that is neither ours (this
    orchestrator and its descendants, reaped or not) nor a kernel thread (softirq work
    for our own loopback traffic runs there), in cores; steal time too."""

    def __init__(self):
        self.busy0, self.steal0 = _cpu_line()
        self.ours0, self.kernel0 = _snapshot()
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self.kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.t0 = time.monotonic()

    def finish(self):
        wall = time.monotonic() - self.t0
        busy1, steal1 = _cpu_line()
        ours1, kernel1 = _snapshot()
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)

        def delta(before, after):
            return sum(t - before.get(pid, 0) for pid, t in after.items())

        ru = ((self1.ru_utime + self1.ru_stime - self.self0.ru_utime - self.self0.ru_stime) +
              (kids1.ru_utime + kids1.ru_stime - self.kids0.ru_utime - self.kids0.ru_stime))
        ours = delta(self.ours0, ours1) + ru * CLK_TCK
        kernel = delta(self.kernel0, kernel1)
        foreign = max(0.0, (busy1 - self.busy0) - ours - kernel)
        denom = max(wall, 1e-3) * CLK_TCK
        return {"foreign_cores": round(foreign / denom, 3),
                "steal_cores": round((steal1 - self.steal0) / denom, 3),
                "wall_s": round(wall, 3)}


def loadavg():
    return _read("/proc/loadavg").split()[0]


def spawn_piped(cmd, cpu, log_path, env=None):
    """spawn(), with stdin and stdout as pipes to talk to the process (stderr to log)."""
    full = ["taskset", "-c", str(cpu)] + list(cmd)
    log = open(log_path, "ab")
    proc = subprocess.Popen(full, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                            start_new_session=True, env=env)
    log.close()
    _started.append(proc)
    _record_pids()
    return proc
