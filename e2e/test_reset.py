"""A reset on one side: every byte that side sent before it is delivered to the other side,
in order, and then the other side gets a reset too, never a clean EOF. On the splice and
the filter path, in both directions. The proxy is stopped (SIGSTOP) while a peer replies
and resets, so the order in which it then sees both is certain, not a race."""
import fcntl
import os
import select
import signal
import socket
import struct
import termios
import unittest

from harness import ProxyTestCase, env, free_port, recv_until_closed, wait_until
from harness.client import payload_bytes

PLUGIN = os.path.join(env.PLUGIN_DIR, "filter.so")
REPLY = b"-ERR Protocol error\r\n"  # 21 bytes, as Redis answers a desynced client
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def tcp_socket_listed(local_port: int, remote_port: int) -> bool:
    """True while /proc/net/tcp lists the IPv4 socket with these ports. A socket that got
    a RST leaves the table at once, though its owner has not closed it yet."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            local, remote = line.split()[1:3]
            if (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)) == \
                    (local_port, remote_port):
                return True
    return False


def more_than_the_kernel_buffers() -> int:
    """A stream the proxy's sockets cannot absorb whole: its client socket's receive
    buffer may grow to tcp_rmem's maximum (32 MiB on some machines) while it reads fast,
    its backend socket's send buffer to tcp_wmem's."""
    def maximum(name):
        with open(f"/proc/sys/net/ipv4/{name}") as f:
            return int(f.read().split()[2])
    return max(16 << 20, maximum("tcp_rmem") + maximum("tcp_wmem") + (8 << 20))


def unacknowledged(s: socket.socket) -> int:
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


class ResetTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        # Plain sockets: the backend must close with RST and read until a reset.
        self.listener = socket.socket()
        self.addCleanup(self.listener.close)
        # Small buffers (inherited by the accepted socket) keep the backpressure test short.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        self.listener.bind(("127.0.0.1", free_port()))
        self.listener.listen()
        self.listener.settimeout(env.t(10))

    def connect(self, filtered: bool):
        options = {"filter": "filter.so"} if filtered else {}  # no args: passes bytes as they are
        route = self.route("r", [f"127.0.0.1:{self.listener.getsockname()[1]}"], **options)
        proxy = self.start_proxy([route])
        client = self.client(route.port)
        backend, _ = self.listener.accept()
        self.addCleanup(backend.close)
        backend.settimeout(env.t(10))
        return proxy, client, backend

    def stopped(self, proxy):
        """SIGSTOP now; SIGCONT at cleanup too, so a failing test leaves no frozen proxy."""
        os.kill(proxy.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, proxy.pid, signal.SIGCONT)

    # -- the backend resets while the client is still sending (issue 11, item 1) ------
    def backend_reply_then_reset(self, filtered):
        proxy, client, backend = self.connect(filtered)
        client.sendall(b"*1")
        self.assertEqual(backend.recv(2), b"*1")
        self.stopped(proxy)
        client.sendall(b"\r\n$1\r\nx")  # more request bytes the proxy will try to forward
        proxy_side = (backend.getpeername()[1], backend.getsockname()[1])
        backend.sendall(REPLY)
        backend.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        backend.close()
        wait_until(lambda: not tcp_socket_listed(*proxy_side), env.t(5),
                   "the stopped proxy's backend socket to take the reset")
        os.kill(proxy.pid, signal.SIGCONT)

        data, how = recv_until_closed(client, env.t(10))
        self.assertEqual(data, REPLY, "the backend's reply sent before its reset was lost")
        self.assertEqual(how, "reset", "the backend's reset reached the client as a clean EOF")
        acc = proxy.wait_access(route="r")
        self.assertEqual(acc.fields.get("close"), "backend_reset", acc.raw)
        self.assertEqual(int(acc.fields["backend_to_client"]), len(REPLY), acc.raw)

    def test_backend_reply_before_its_reset_reaches_the_client(self):
        self.backend_reply_then_reset(filtered=False)

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_backend_reply_before_its_reset_reaches_the_client_through_a_filter(self):
        self.backend_reply_then_reset(filtered=True)

    # -- the client aborts an upload (issue 11, item 2) --------------------------------
    def client_upload_then_reset(self, filtered):
        proxy, client, backend = self.connect(filtered)
        upload = payload_bytes(11, 1400)
        self.stopped(proxy)
        client.sendall(upload)
        wait_until(lambda: unacknowledged(client) == 0, env.t(5),
                   "the stopped proxy's kernel to take the upload")
        proxy_side = (client.getpeername()[1], client.getsockname()[1])
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        client.close()
        wait_until(lambda: not tcp_socket_listed(*proxy_side), env.t(5),
                   "the stopped proxy's client socket to take the reset")
        os.kill(proxy.pid, signal.SIGCONT)

        data, how = recv_until_closed(backend, env.t(10))
        self.assertEqual(data, upload)
        self.assertEqual(how, "reset", "an aborted upload reached the backend as a complete one")
        acc = proxy.wait_access(route="r")
        self.assertEqual(acc.fields.get("close"), "client_reset", acc.raw)
        self.assertEqual(acc.fields.get("error"), "ECONNRESET", acc.raw)

    def test_aborted_upload_reaches_the_backend_as_a_reset(self):
        self.client_upload_then_reset(filtered=False)

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_aborted_upload_reaches_the_backend_as_a_reset_through_a_filter(self):
        self.client_upload_then_reset(filtered=True)

    # -- the client resets while its bytes wait for a slow backend ---------------------
    def client_reset_behind_backpressure(self, filtered):
        """The backend reads nothing until the client has reset, so the client's last
        bytes sit in the proxy (pipe or filter buffers, socket buffers) at the reset:
        every byte the proxy's kernel acknowledged must still reach the backend."""
        proxy, client, backend = self.connect(filtered)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
        stream = payload_bytes(12, more_than_the_kernel_buffers())
        client.setblocking(False)
        sent = 0
        stuck = env.t(0.3)  # no room for this long: every buffer on the way is full
        while sent < len(stream):
            _, writable, _ = select.select([], [client], [], stuck)
            if not writable:
                break
            try:
                sent += client.send(stream[sent:sent + 65536])
            except BlockingIOError:
                continue
        self.assertLess(sent, len(stream), "the backend's silence never stopped the client")
        delivered_at_least = sent - unacknowledged(client)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        client.close()

        received, how = recv_until_closed(backend, env.t(20))
        self.assertGreaterEqual(len(received), delivered_at_least,
                                "bytes the proxy had taken before the client's reset were lost")
        self.assertEqual(received, stream[:len(received)], "bytes out of order")
        self.assertEqual(how, "reset")
        acc = proxy.wait_access(route="r")
        self.assertEqual(acc.fields.get("close"), "client_reset", acc.raw)

    def test_client_bytes_behind_backpressure_reach_the_backend_before_its_reset(self):
        self.client_reset_behind_backpressure(filtered=False)

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_client_bytes_behind_backpressure_reach_the_backend_before_its_reset_filtered(self):
        self.client_reset_behind_backpressure(filtered=True)


if __name__ == "__main__":
    unittest.main()
