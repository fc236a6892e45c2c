"""Free 127.0.0.1 ports outside the ephemeral range, and a backend address that never
completes a handshake. Port allocation is guarded by a lock (thread-safe)."""
import random
import select
import socket
import threading

PORT_MIN, PORT_MAX = 20000, 32000

_lock = threading.Lock()
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (checked by binding it on `host`: "0.0.0.0" for
    a wildcard listener, which also collides with any 127.0.0.N socket on the port), never
    handed out twice by this process. Racy against other processes by nature; the range
    avoids the kernel's ephemeral ports so our own client sockets never take it."""
    with _lock:
        for _ in range(2000):
            port = random.randint(PORT_MIN, PORT_MAX)
            if port in _handed_out:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((host, port))
            except OSError:
                continue
            finally:
                s.close()
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port in 20000-32000")


def address(port: int) -> str:
    return f"127.0.0.1:{port}"


class Blackhole:
    """A listening socket whose accept queue is full, so the kernel drops further SYNs and a
    connect to it stays pending until the connecter gives up. listen(0) queues one
    connection; one more handshake that completes fills it. verify() proves the effect."""

    def __init__(self):
        self.port = free_port()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(0)
        self.fillers: list[socket.socket] = []

    def _attempt(self, wait_s: float) -> tuple[socket.socket, bool]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        _, writable, _ = select.select([], [s], [], wait_s)
        return s, bool(writable)

    def fill(self) -> bool:
        """Complete handshakes until one stays pending; True when the queue is full."""
        for _ in range(16):
            s, done = self._attempt(0.3)
            if not done:
                s.close()
                return self.verify()
            self.fillers.append(s)
        return False

    def verify(self, wait_s: float = 0.5) -> bool:
        s, done = self._attempt(wait_s)
        s.close()
        return not done

    def close(self):
        for s in self.fillers:
            s.close()
        self.listener.close()
