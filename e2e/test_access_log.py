"""The access line of a closed connection: route, client, backend, bytes each way,
duration and close reason, checked against what the client and backend really moved."""
import socket
import struct
import unittest

from harness import ProxyTestCase, env, logs, recv_until_closed, wait_until
from harness.client import payload_bytes

SENT = 123457
EXTRA = 54321


class AccessLogTest(ProxyTestCase):
    def test_fields_match_the_connection(self):
        backend = self.backend("echo_extra", extra=b"E" * EXTRA)
        other = self.route("other", [self.backend("echo")])
        route = self.route("acc", [backend])
        proxy = self.start_proxy([other, route])
        s = self.client(route.port)
        client_port = s.getsockname()[1]
        payload = payload_bytes(99, SENT)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data, how = recv_until_closed(s, env.t(10))
        self.assertEqual(how, "eof")
        self.assertEqual(data, payload + b"E" * EXTRA)
        s.close()

        acc = proxy.wait_access(route="acc")
        f = acc.fields
        self.assertEqual(acc.level, "info")
        for key in logs.ACCESS_KEYS:
            self.assertIn(key, f, acc.raw)
        self.assertEqual(f["client"], f"127.0.0.1:{client_port}")
        self.assertEqual(f["backend"], backend.address)
        self.assertEqual(int(f["client_to_backend"]), SENT)
        self.assertEqual(int(f["backend_to_client"]), SENT + EXTRA)
        self.assertGreaterEqual(int(f["duration_ms"]), 0)
        self.assertIn(f["close"], ("client_eof", "backend_eof"), acc.raw)
        self.assertEqual(len(proxy.access(route="acc")), 1)
        self.assertEqual(proxy.access(route="other"), [])

    def test_client_reset_reason(self):
        holder = self.backend("hold")
        route = self.route("rst", [holder])
        proxy = self.start_proxy([route])
        s = self.client(route.port)
        s.sendall(b"x" * 1000)
        wait_until(lambda: holder.received_total() == 1000, env.t(5), "bytes at the backend")
        # SO_LINGER on with 0 s: close() sends RST instead of FIN.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        acc = proxy.wait_access(route="rst")
        self.assertEqual(acc.fields.get("close"), "client_reset", acc.raw)


if __name__ == "__main__":
    unittest.main()
