"""RepeatThread: a daemon thread that calls a function at a steady pace for a bounded
time, for background activity while a test does something else (files written, clients
connecting). `calls` is written by the thread only; read it from the test thread."""
import threading
import time


class RepeatThread:
    def __init__(self, name, step, period_s, limit_s):
        self.calls = 0
        self._step = step
        self._period_s = period_s
        self._limit_s = limit_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        end = time.monotonic() + self._limit_s
        while not self._stop.is_set() and time.monotonic() < end:
            self._step(self.calls)
            self.calls += 1
            self._stop.wait(self._period_s)

    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout):
        """Ask the thread to end and wait up to `timeout` seconds for it."""
        self._stop.set()
        self._thread.join(timeout)
