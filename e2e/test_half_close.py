"""Half-close in both directions: a FIN is passed on only after every byte before it, and
the other direction keeps flowing until its own FIN."""
import hashlib
import socket
import unittest

from harness import ProxyTestCase, env, recv_until_closed, wait_until
from harness.client import payload_bytes

SEND_BYTES = env.pick(2 << 20, 512 << 10)
REPLY_BYTES = env.pick(1 << 20, 256 << 10)


class HalfCloseTest(ProxyTestCase):
    def test_backend_replies_after_client_half_close(self):
        reply = payload_bytes(7, REPLY_BYTES)
        backend = self.backend("reply_after_eof", reply=reply)
        route = self.route("hc", [backend])
        proxy = self.start_proxy([route])
        payload = payload_bytes(8, SEND_BYTES)

        s = self.client(route.port)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data, how = recv_until_closed(s, env.t(15))

        self.assertEqual(how, "eof", "the reply must end with a clean EOF")
        self.assertEqual(len(data), 64 + len(reply))
        self.assertEqual(data[:64].decode(), hashlib.sha256(payload).hexdigest(),
                         "backend received different bytes than the client sent")
        self.assertEqual(data[64:], reply)
        rec = backend.records[0]
        self.assertEqual(rec.eof_after, len(payload), "backend saw EOF before all bytes")
        acc = proxy.wait_access(route="hc")
        self.assertEqual(int(acc.fields["client_to_backend"]), len(payload))
        self.assertEqual(int(acc.fields["backend_to_client"]), 64 + len(reply))

    def test_client_sends_after_backend_half_close(self):
        response = b"R" * 100000
        backend = self.backend("close_write_first", response=response)
        route = self.route("hc2", [backend])
        self.start_proxy([route])

        s = self.client(route.port)
        data, how = recv_until_closed(s, env.t(10))
        self.assertEqual((len(data), how), (len(response), "eof"))
        # Our read side is done; our write side must still reach the backend.
        late = b"late-bytes-" * 5000
        s.sendall(late)
        s.shutdown(socket.SHUT_WR)
        wait_until(lambda: backend.records and backend.records[0].eof_after is not None,
                   env.t(10), "backend to see the client's EOF")
        self.assertEqual(backend.records[0].received, len(late))
        self.assertEqual(bytes(backend.records[0].head), late)
        _, how = recv_until_closed(s, env.t(10))
        self.assertEqual(how, "eof")


if __name__ == "__main__":
    unittest.main()
