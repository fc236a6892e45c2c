"""Bounded waiting: poll a condition until it holds or a deadline passes. No shared state."""
import time

from . import env

POLL_S = 0.01


def wait_until(predicate, timeout: float, what: str, detail=None):
    """Return predicate()'s first truthy value; raise AssertionError naming `what` (and
    detail(), e.g. the proxy log tail) when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = ""
            if detail is not None:
                extra = "\n" + detail()
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(POLL_S)


def default_timeout() -> float:
    return env.t(5.0)


class Deadline:
    """A point in time; remaining() never goes below a small positive floor so socket
    timeouts derived from it stay valid."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def remaining(self) -> float:
        return max(0.001, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end
