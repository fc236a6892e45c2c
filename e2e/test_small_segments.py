"""One-byte TCP segments through the splice path. A pipe counts buffers, not bytes, so a
few one-byte segments can fill it: a relay that took every short read for a drained
socket would stop there and wait for an edge that never comes. Every byte must arrive,
both ways, in order, and the FIN after them."""
import socket
import threading
import unittest

from harness import ProxyTestCase, env, recv_until_closed

SEGMENTS = env.pick(20000, 4000)


class SmallSegmentsTest(ProxyTestCase):
    def test_one_byte_segments_echo_back_complete(self):
        echo = self.backend("echo")
        route = self.route("tiny", [echo])
        proxy = self.start_proxy([route])
        sent = bytes(i % 251 for i in range(SEGMENTS))

        s = self.client(route.port)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        result = {}

        # The client reads while it writes (else both socket buffers fill and it blocks).
        def read_all():
            try:
                result["data"], result["how"] = recv_until_closed(s, env.t(60))
            except AssertionError as error:  # still open at the deadline: a stall
                result["error"] = str(error)

        reader = threading.Thread(target=read_all)
        reader.start()
        for i in range(SEGMENTS):  # one send, one segment (TCP_NODELAY)
            s.send(sent[i:i + 1])
        s.shutdown(socket.SHUT_WR)
        reader.join(env.t(90))
        self.assertFalse(reader.is_alive(), "the echo never ended")
        self.assertNotIn("error", result, f"the relay stalled\n{proxy.tail()}")
        data = result["data"]
        self.assertEqual(len(data), len(sent), f"the relay stalled\n{proxy.tail()}")
        self.assertTrue(data == sent, "bytes lost or out of order")
        self.assertEqual(result["how"], "eof")
        s.close()


if __name__ == "__main__":
    unittest.main()
