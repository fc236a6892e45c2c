"""Control of one arus-proxy process: start, wait for its log lines, signal, stop, and
check its output for sanitizer reports. Output is read by a daemon thread into a list
guarded by a Condition (and can be paused, to play a stalled reader of stderr); every
other method runs on the test thread."""
import atexit
import os
import re
import resource
import signal
import subprocess
import threading
import time

from . import env, logs
from .wait import default_timeout

_STARTED = re.compile(r" info started( |$)")
_live: set = set()
_live_lock = threading.Lock()

_SAN_DEFAULTS = {
    "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=0:exitcode=66:detect_leaks=1",
    "UBSAN_OPTIONS": "halt_on_error=1:abort_on_error=0:exitcode=66:print_stacktrace=1",
    "TSAN_OPTIONS": "halt_on_error=1:abort_on_error=0:exitcode=66:second_deadlock_stack=1",
    "LSAN_OPTIONS": "exitcode=66",
}


def child_env(extra=None) -> dict:
    e = dict(os.environ)
    for key, value in _SAN_DEFAULTS.items():
        e.setdefault(key, value)
    if extra:
        e.update(extra)
    return e


def kill_all():
    """Last-resort cleanup (atexit, watchdog): SIGKILL every proxy still running, by PID."""
    with _live_lock:
        procs = list(_live)
    for p in procs:
        try:
            p.proc.kill()
        except OSError:
            pass


atexit.register(kill_all)


class Proxy:
    """One proxy run. `args` are the command-line arguments after the binary; `nofile`
    lowers RLIMIT_NOFILE in the child (soft and hard) before exec."""

    def __init__(self, args, *, nofile=None, log_path=None, cwd=None):
        self.args = [env.BIN] + list(args)
        self.nofile = nofile
        self.log_path = log_path
        self.cwd = cwd
        self.proc = None
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = None
        self._reading = threading.Event()  # cleared: the reader stops reading the pipe
        self._reading.set()
        self.returncode = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self, wait_started=True, timeout=None):
        preexec = None
        if self.nofile is not None:
            limit = self.nofile

            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=child_env(), cwd=self.cwd,
                                     preexec_fn=preexec)
        with _live_lock:
            _live.add(self)
        self._reader = threading.Thread(target=self._read, name=f"proxy-{self.proc.pid}",
                                        daemon=True)
        self._reader.start()
        if wait_started:
            self.wait_started(timeout)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self):
        stream = self.proc.stdout
        while True:
            self._reading.wait()
            raw = stream.readline()
            if not raw:
                break
            line = raw.decode("utf-8", "replace")
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def pause_output(self):
        """Stop reading the proxy's output, as a stalled log reader would: once the reader
        has taken the line it is on, the pipe fills up and the proxy's writes block."""
        self._reading.clear()

    def resume_output(self):
        self._reading.set()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_started(self, timeout=None):
        """Block until the ` info started ` line; fail with the output if the process exits
        or the deadline passes first."""
        return self.wait_line(lambda l: _STARTED.search(l) is not None, timeout,
                              "the 'info started' line")

    def wait_line(self, predicate, timeout=None, what="a log line", start=0):
        """The first output line at index >= start satisfying predicate(line)."""
        timeout = default_timeout() if timeout is None else timeout
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self._lines):
                    line = self._lines[index]
                    index += 1
                    if predicate(line):
                        return line
                if self._eof:
                    self.proc.wait()
                    raise AssertionError(f"proxy exited (status {self.proc.returncode}) before "
                                         f"{what}\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}\n"
                                         f"{self.tail()}")
                self._cond.wait(min(left, 0.2))

    def wait_contains(self, needle: str, timeout=None, start=0) -> str:
        return self.wait_line(lambda l: needle in l, timeout, repr(needle), start)

    def mark(self) -> int:
        """An index for wait_line(start=...): only lines printed from now on."""
        with self._cond:
            return len(self._lines)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=None) -> int:
        """Exit status; AssertionError (process left running) if it does not exit in time."""
        timeout = default_timeout() if timeout is None else timeout
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"proxy pid {self.pid} still running {timeout:.1f}s later\n"
                                 f"{self.tail()}") from None
        self._finish()
        return rc

    def stop(self, timeout=None):
        """SIGTERM and wait; then a second SIGTERM (which cuts a drain short) and wait;
        SIGKILL as the last resort. Returns (status, killed)."""
        killed = False
        timeout = default_timeout() if timeout is None else timeout
        for attempt in range(2):
            if not self.running():
                break
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout if attempt == 0 else default_timeout())
            except subprocess.TimeoutExpired:
                continue
        if self.running():
            self.proc.kill()
            self.proc.wait(10)
            killed = True
        self._finish()
        return self.proc.returncode, killed

    def _finish(self):
        if self.returncode is not None:
            return
        self.returncode = self.proc.returncode
        self._reading.set()
        if self._reader is not None:
            self._reader.join(5)
        with _live_lock:
            _live.discard(self)
        if self.log_path:
            with open(self.log_path, "w") as f:
                f.write(f"$ {' '.join(self.args)}\n{self.output()}\n[exit status {self.returncode}]\n")

    # -- output ----------------------------------------------------------------------
    def lines(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    def output(self) -> str:
        return "".join(self.lines())

    def tail(self, n=40) -> str:
        lines = self.lines()
        return "--- proxy output (last %d of %d lines) ---\n%s---" % (
            min(n, len(lines)), len(lines), "".join(lines[-n:]))

    def records(self, msg=None, **want) -> list:
        out = []
        for line in self.lines():
            rec = logs.parse(line)
            if rec and (msg is None or rec.msg == msg) and rec.matches(**want):
                out.append(rec)
        return out

    def access(self, **want) -> list:
        return self.records("access", **want)

    def wait_record(self, msg, timeout=None, start=0, **want):
        """The first parsed log line with this msg and these field values."""
        def pred(line):
            rec = logs.parse(line)
            return rec is not None and rec.msg == msg and rec.matches(**want)
        line = self.wait_line(pred, timeout, f"'{msg}' line with {want}", start)
        return logs.parse(line)

    def wait_access(self, timeout=None, start=0, **want):
        return self.wait_record("access", timeout, start, **want)

    def sanitizer_report(self):
        return logs.sanitizer_report(self.output())

    def cpu_seconds(self) -> float:
        """utime + stime of the whole process (all threads), from /proc/PID/stat."""
        with open(f"/proc/{self.pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
        return ticks / os.sysconf("SC_CLK_TCK")
