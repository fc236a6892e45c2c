"""TCP urgent data (send(MSG_OOB), as telnet and FTP use it) through the real binary. splice(2)
cannot read past an urgent mark, so the splice path must step over it by hand: every byte
arrives in order, the urgent one still marked urgent, in both directions, also when a FIN
follows at once; the filter path passes it in line."""
import fcntl
import socket
import struct
import unittest

from harness import ProxyTestCase, env, free_port, recv_exact, recv_until_closed, wait_until

SIOCATMARK = 0x8905


def at_mark(s: socket.socket) -> bool:
    return struct.unpack("i", fcntl.ioctl(s.fileno(), SIOCATMARK, b"\0" * 4))[0] != 0


def inline(s: socket.socket) -> socket.socket:
    """Urgent data in line, so a plain recv() sees every byte and SIOCATMARK the mark."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
    return s


class UrgentDataTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        # A plain socket backend: the harness's asyncio backends cannot see urgent marks.
        self.listener = inline(socket.socket())
        self.addCleanup(self.listener.close)
        self.listener.bind(("127.0.0.1", free_port()))
        self.listener.listen()
        self.listener.settimeout(env.t(10))

    def connect(self, **route_options):
        route = self.route("u", [f"127.0.0.1:{self.listener.getsockname()[1]}"], **route_options)
        proxy = self.start_proxy([route])
        client = inline(self.client(route.port))
        backend, _ = self.listener.accept()
        self.addCleanup(backend.close)
        return proxy, client, inline(backend)

    def send_with_urgent_byte(self, sender, receiver):
        """'abc', urgent '!', 'def': the receiver must get all 7 bytes and the mark at '!'."""
        sender.sendall(b"abc")
        self.assertEqual(recv_exact(receiver, 3, env.t(10)), b"abc")
        sender.send(b"!", socket.MSG_OOB)
        wait_until(lambda: at_mark(receiver), env.t(10), "the urgent mark to arrive")
        sender.sendall(b"def")
        self.assertEqual(recv_exact(receiver, 4, env.t(10)), b"!def")

    def test_client_urgent_byte_reaches_the_backend_in_order_and_urgent(self):
        _, client, backend = self.connect()
        self.send_with_urgent_byte(client, backend)
        client.sendall(b"more")  # the connection goes on after the mark
        self.assertEqual(recv_exact(backend, 4, env.t(10)), b"more")

    def test_backend_urgent_byte_reaches_the_client_in_order_and_urgent(self):
        _, client, backend = self.connect()
        self.send_with_urgent_byte(backend, client)

    def test_urgent_byte_followed_by_fin_loses_nothing(self):
        proxy, client, backend = self.connect()
        client.sendall(b"abc")
        client.send(b"!", socket.MSG_OOB)
        client.sendall(b"def")
        client.shutdown(socket.SHUT_WR)
        data, how = recv_until_closed(backend, env.t(10))
        self.assertEqual((data, how), (b"abc!def", "eof"))
        backend.close()
        acc = proxy.wait_access(route="u")
        self.assertEqual(int(acc.fields["client_to_backend"]), 7)

    def test_filter_path_passes_the_urgent_byte_in_line(self):
        _, client, backend = self.connect(filter="filter.so", filter_args="upper")
        client.sendall(b"abc")
        client.send(b"!", socket.MSG_OOB)
        client.sendall(b"def")
        self.assertEqual(recv_exact(backend, 7, env.t(10)), b"ABC!DEF")


if __name__ == "__main__":
    unittest.main()
