"""The filter path sends output a filter left unchanged by splice from a tee'd pipe
(docs/architecture.md, "With a filter"). Black-box: a pass-through filter (the shipped
filter without arguments) must relay large streams byte for byte in both directions with
half-closes, and a filter that changes bytes only in the middle of a stream (upper, over
a stream whose only lower-case letters sit in the middle) must change exactly those."""
import asyncio
import hashlib
import os
import random
import socket
import threading
import unittest

from harness import ProxyTestCase, env, wait_until
from harness.client import echo_transfer

PLUGIN = os.path.join(env.PLUGIN_DIR, "filter.so")
UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
COUNT = env.pick(4, 2)
BYTES = env.pick(16 << 20, 4 << 20)  # many 64 KiB reads per stream: the tee path's steady state


def upper(b) -> bytes:
    return bytes(b).translate(UPPER)


def stream_changed_in_the_middle(size: int, middle: int) -> bytes:
    """Random bytes with no lower-case letter, but for `middle` of them half-way."""
    rng = random.Random(size)
    outer = upper(rng.randbytes(size - middle))
    letters = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(middle))
    half = len(outer) // 2
    return outer[:half] + letters + outer[half:]


def send_and_read(port: int, payload: bytes, timeout: float) -> bytes:
    """Sends payload, shuts the write side, reads until the proxy closes; both at once."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received = bytearray()
    errors = []

    def writer():
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        while True:
            data = s.recv(1 << 20)
            if not data:
                break
            received += data
    finally:
        t.join(timeout)
        s.close()
    if errors:
        raise errors[0]
    return bytes(received)


@unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
class FilterTeeTest(ProxyTestCase):
    def test_pass_through_relays_large_streams_exactly_both_ways_with_half_close(self):
        echo = self.backend("echo")
        route = self.route("p", [echo], filter="filter.so")  # no filter_args: pass-through
        proxy = self.start_proxy([route])

        async def main():
            return await asyncio.gather(*[
                echo_transfer(route.port, i, 900 + i, BYTES, half_close=True,
                              timeout=env.t(90), chunk_max=256 << 10) for i in range(COUNT)])

        results = asyncio.run(main())
        bad = [r.describe() for r in results if not r.ok()]
        self.assertEqual(bad, [], proxy.tail())
        wait_until(lambda: echo.accepts == COUNT and echo.active == 0, env.t(10),
                   "backend connections to close")
        for _ in range(COUNT):
            acc = proxy.wait_access(route="p")
            self.assertEqual(int(acc.fields["client_to_backend"]), BYTES, acc.raw)
            self.assertEqual(int(acc.fields["backend_to_client"]), BYTES, acc.raw)

    def test_pass_through_reply_after_the_clients_half_close(self):
        """The client's whole stream, its FIN, then the backend's whole stream back."""
        reply = random.Random(7).randbytes(BYTES)
        backend = self.backend("reply_after_eof", reply=reply)
        route = self.route("p", [backend], filter="filter.so")
        proxy = self.start_proxy([route])
        payload = random.Random(8).randbytes(BYTES)
        received = send_and_read(route.port, payload, env.t(60))
        digest = hashlib.sha256(payload).hexdigest().encode()
        self.assertEqual(received[:64], digest, "the backend got other bytes than were sent")
        self.assertEqual(len(received), 64 + len(reply))
        self.assertTrue(received[64:] == reply, "the reply arrived changed")
        acc = proxy.wait_access(route="p")
        self.assertEqual(acc.fields.get("close"), "client_eof", acc.raw)

    def test_filter_changing_bytes_only_in_the_middle(self):
        # 1 MiB of letters: several changed reads in a row, so the proxy also stops
        # teeing for a while and takes it up again within the stream.
        echo = self.backend("echo")
        route = self.route("u", [echo], filter="filter.so", filter_args="upper")
        proxy = self.start_proxy([route])
        payload = stream_changed_in_the_middle(BYTES, 1 << 20)
        received = send_and_read(route.port, payload, env.t(60))
        expected = upper(payload)
        self.assertEqual(len(received), len(expected), proxy.tail())
        if received != expected:
            first = next(i for i, (a, b) in enumerate(zip(received, expected)) if a != b)
            self.fail(f"first wrong byte at {first} of {len(expected)}")
        wait_until(lambda: echo.records and echo.records[0].eof_after is not None, env.t(10),
                   "the backend to see EOF")
        self.assertEqual(echo.records[0].received, len(payload))
        self.assertEqual(echo.records[0].sha.hexdigest(), hashlib.sha256(expected).hexdigest(),
                         "the backend got other bytes than the filter made")


if __name__ == "__main__":
    unittest.main()
