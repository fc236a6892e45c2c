"""The end of a stream on the splice path: a FIN that comes with the last bytes (one
segment, or queued behind them) ends that direction after every byte, as a clean EOF, and
the other direction keeps flowing (half-close). The proxy ends a direction without the
read that returns 0 when its last read proves the FIN consumed (splice_drain.hpp), so
these cases are pinned down: the proxy is stopped (SIGSTOP) while a peer sends, so that it
sees data and FIN in one epoll report, not by luck of timing."""
import hashlib
import os
import select
import signal
import socket
import threading
import unittest

from harness import ProxyTestCase, env, free_port, recv_exact, recv_until_closed, wait_until
from harness.client import payload_bytes

from test_reset import unacknowledged


class EndOfStreamTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.listener = socket.socket()
        self.addCleanup(self.listener.close)
        self.listener.bind(("127.0.0.1", free_port()))
        self.listener.listen()
        self.listener.settimeout(env.t(10))

    def connect(self):
        route = self.route("e", [f"127.0.0.1:{self.listener.getsockname()[1]}"])
        proxy = self.start_proxy([route])
        client = self.client(route.port)
        backend, _ = self.listener.accept()
        self.addCleanup(backend.close)
        backend.settimeout(env.t(10))
        client.settimeout(env.t(10))
        return proxy, client, backend

    def stopped_while(self, proxy, sender: socket.socket, send):
        """Runs send() with the proxy stopped, and continues it once its kernel took every
        byte (and the FIN): the proxy then sees them in one epoll report."""
        os.kill(proxy.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, proxy.pid, signal.SIGCONT)
        send()
        wait_until(lambda: unacknowledged(sender) == 0, env.t(5),
                   "the stopped proxy's kernel to take the bytes and the FIN")
        os.kill(proxy.pid, signal.SIGCONT)

    @staticmethod
    def send_and_close_write(s: socket.socket, data: bytes, one_segment: bool):
        if one_segment:  # corked: the FIN rides on the last data segment
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)

    def backend_reply_and_fin(self, one_segment):
        proxy, client, backend = self.connect()
        client.sendall(b"request")
        self.assertEqual(recv_exact(backend, 7, env.t(10)), b"request")
        reply = payload_bytes(21, 1000)
        self.stopped_while(proxy, backend,
                           lambda: self.send_and_close_write(backend, reply, one_segment))
        data, how = recv_until_closed(client, env.t(10))
        self.assertEqual((data, how), (reply, "eof"))
        # Half-close: the client's direction still reaches the backend, then its FIN.
        client.sendall(b"after")
        client.shutdown(socket.SHUT_WR)
        data, how = recv_until_closed(backend, env.t(10))
        self.assertEqual((data, how), (b"after", "eof"))
        acc = proxy.wait_access(route="e")
        self.assertEqual(acc.fields.get("close"), "backend_eof", acc.raw)
        self.assertEqual(int(acc.fields["backend_to_client"]), len(reply), acc.raw)
        self.assertEqual(int(acc.fields["client_to_backend"]), 12, acc.raw)

    def test_backend_reply_and_fin_in_one_segment(self):
        self.backend_reply_and_fin(one_segment=True)

    def test_backend_reply_then_fin_queued_behind_it(self):
        self.backend_reply_and_fin(one_segment=False)

    def test_client_request_and_fin_in_one_segment(self):
        proxy, client, backend = self.connect()
        request = payload_bytes(22, 3000)
        self.stopped_while(proxy, client,
                           lambda: self.send_and_close_write(client, request, True))
        data, how = recv_until_closed(backend, env.t(10))
        self.assertEqual((data, how), (request, "eof"))
        backend.sendall(b"reply after the client's FIN")  # half-close: the reply still goes
        backend.shutdown(socket.SHUT_WR)
        data, how = recv_until_closed(client, env.t(10))
        self.assertEqual((data, how), (b"reply after the client's FIN", "eof"))
        acc = proxy.wait_access(route="e")
        self.assertEqual(acc.fields.get("close"), "client_eof", acc.raw)
        self.assertEqual(int(acc.fields["client_to_backend"]), len(request), acc.raw)

    def test_fin_alone_after_the_last_bytes_were_relayed(self):
        proxy, client, backend = self.connect()
        backend.sendall(b"hello")
        self.assertEqual(recv_exact(client, 5, env.t(10)), b"hello")
        self.stopped_while(proxy, backend, lambda: backend.shutdown(socket.SHUT_WR))
        data, how = recv_until_closed(client, env.t(10))
        self.assertEqual((data, how), (b"", "eof"))
        client.close()
        acc = proxy.wait_access(route="e")
        self.assertEqual(acc.fields.get("close"), "backend_eof", acc.raw)
        self.assertEqual(int(acc.fields["backend_to_client"]), 5, acc.raw)

    def test_reply_larger_than_the_pipe_then_fin_while_the_client_reads_late(self):
        """More than the client's side holds, then the FIN, while the client reads nothing
        yet: the FIN comes in behind a full pipe and must go on only behind the last of
        the bytes, in order."""
        proxy, client, backend = self.connect()
        reply = payload_bytes(23, env.pick(16 << 20, 8 << 20))  # more than the client side holds
        blocked = threading.Event()

        def send_all_then_fin():
            backend.setblocking(False)
            sent = 0
            while sent < len(reply):
                try:
                    sent += backend.send(reply[sent:sent + (256 << 10)])
                except BlockingIOError:
                    blocked.set()  # every buffer on the way is full
                    select.select([], [backend], [], env.t(1))
            backend.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send_all_then_fin, daemon=True)
        sender.start()
        # The client reads nothing until the backend is blocked or done: every buffer on
        # the way, the proxy's pipe among them, is full, or the FIN is in behind them.
        wait_until(lambda: blocked.is_set() or not sender.is_alive(), env.t(10),
                   "the backend to be blocked or done")
        print(f"\n  backend blocked while the client read nothing: {blocked.is_set()}")
        data, how = recv_until_closed(client, env.t(30))
        sender.join(env.t(10))
        self.assertEqual(how, "eof")
        self.assertEqual(len(data), len(reply))
        self.assertEqual(hashlib.sha256(data).hexdigest(), hashlib.sha256(reply).hexdigest(),
                         "bytes lost or out of order")
        client.close()
        acc = proxy.wait_access(route="e")
        self.assertEqual(int(acc.fields["backend_to_client"]), len(reply), acc.raw)


if __name__ == "__main__":
    unittest.main()
