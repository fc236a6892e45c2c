"""PROXY protocol against the proxy's own behaviour: accept_proxy makes the header's source
the client (access log), v2 LOCAL keeps the socket's peer, send_proxy writes v1/v2 before
any client byte (splice and filter path), a chain of two proxies names the original
client, and every kind of bad header closes only its connection with close=proxy_header,
reaches no backend, and is counted in arus_proxy_header_errors_total."""
import os
import socket
import struct
import time
import unittest

from harness import (ProxyTestCase, env, expect_closed, free_port, http, recv_exact,
                     recv_until_closed, roundtrip, wait_until)
from test_reload_triggers import ReloadCase

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PLUGIN = os.path.join(env.PLUGIN_DIR, "filter.so")


def v2_header(command, family, block: bytes) -> bytes:
    return SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(block)) + block


def v2_ipv4(source, source_port, destination, destination_port) -> bytes:
    block = (socket.inet_aton(source) + socket.inet_aton(destination)
             + struct.pack("!HH", source_port, destination_port))
    return v2_header(1, 0x11, block)


def v2_ipv6(source, source_port, destination, destination_port) -> bytes:
    block = (socket.inet_pton(socket.AF_INET6, source)
             + socket.inet_pton(socket.AF_INET6, destination)
             + struct.pack("!HH", source_port, destination_port))
    return v2_header(1, 0x21, block)


def connect(host, port, timeout):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def local_name(s) -> str:
    host, port = s.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class AcceptProxyTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.stats_port = free_port()

    def start(self, backend, **options):
        options.setdefault("accept_proxy", "on")
        route = self.route("pp", [backend], **options)
        proxy = self.start_proxy([route], {"stats_listen": f"127.0.0.1:{self.stats_port}"})
        return route, proxy

    def errors(self):
        samples = http.get_metrics(self.stats_port, env.t(5))
        return http.metric(samples, "arus_proxy_header_errors_total", route="pp")

    def relay_once(self, port, header: bytes, message=b"hello\n", host="127.0.0.1"):
        s = connect(host, port, env.t(5))
        self.addCleanup(s.close)
        s.sendall(header + message)
        self.assertEqual(recv_exact(s, len(message), env.t(5)), message)
        s.close()

    def test_v1_and_v2_source_becomes_the_client(self):
        echo = self.backend("echo")
        route, proxy = self.start(echo)
        cases = [
            (b"PROXY TCP4 203.0.113.7 198.51.100.1 4242 443\r\n", "203.0.113.7:4242"),
            (b"PROXY TCP6 2001:db8::7 2001:db8::1 4243 443\r\n", "[2001:db8::7]:4243"),
            (v2_ipv4("203.0.113.8", 4244, "198.51.100.1", 443), "203.0.113.8:4244"),
            (v2_ipv6("2001:db8::8", 4245, "2001:db8::1", 443), "[2001:db8::8]:4245"),
        ]
        for header, client in cases:
            with self.subTest(client=client):
                self.relay_once(route.port, header)
                proxy.wait_access(env.t(5), route="pp", client=client, close="client_eof")
        # The backend saw the stream's bytes only, never a header.
        wait_until(lambda: echo.accepts == 4 and echo.active == 0, env.t(5), "backend closes")
        self.assertEqual([bytes(r.head) for r in echo.records], [b"hello\n"] * 4)
        self.assertEqual(self.errors(), 0)

    def test_v2_local_and_v1_unknown_keep_the_socket_peer(self):
        echo = self.backend("echo")
        route, proxy = self.start(echo)
        for header in (v2_header(0, 0x00, b""), b"PROXY UNKNOWN\r\n"):
            s = connect("127.0.0.1", route.port, env.t(5))
            self.addCleanup(s.close)
            peer = local_name(s)
            s.sendall(header + b"x")
            self.assertEqual(recv_exact(s, 1, env.t(5)), b"x")
            s.close()
            proxy.wait_access(env.t(5), route="pp", client=peer)

    def test_ipv6_listener_and_a_filter_route(self):
        if not os.path.isfile(PLUGIN):
            self.skipTest(f"{PLUGIN} not built")
        echo = self.backend("echo")
        route = self.route("pp", [echo], accept_proxy="on", filter="filter.so",
                           filter_args="upper")
        route.host = "::1"
        proxy = self.start_proxy([route])
        s = connect("::1", route.port, env.t(5))
        self.addCleanup(s.close)
        s.sendall(b"PROXY TCP4 192.0.2.9 192.0.2.1 999 80\r\nabc")
        self.assertEqual(recv_exact(s, 3, env.t(5)), b"ABC")
        s.close()
        proxy.wait_access(env.t(5), route="pp", client="192.0.2.9:999")
        self.assertEqual(bytes(echo.records[0].head), b"ABC")  # the filter never saw the header

    def test_a_header_in_slow_pieces_completing_in_time_is_accepted(self):
        echo = self.backend("echo")
        route, proxy = self.start(echo, proxy_header_timeout_ms=int(env.t(10) * 1000))
        header = v2_ipv4("203.0.113.9", 5000, "198.51.100.1", 443)
        s = connect("127.0.0.1", route.port, env.t(5))
        self.addCleanup(s.close)
        for i in range(len(header) - 1):
            s.sendall(header[i:i + 1])
            time.sleep(0.01)
        self.assertEqual(echo.accepts, 0, "no backend before the header is whole")
        s.sendall(header[-1:] + b"ping")
        self.assertEqual(recv_exact(s, 4, env.t(5)), b"ping")
        s.close()
        proxy.wait_access(env.t(5), route="pp", client="203.0.113.9:5000")

    def test_bad_headers_close_only_their_connection(self):
        echo = self.backend("echo")
        route, proxy = self.start(echo)
        cases = {
            "garbage": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "v1 without CRLF": b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2" + b" " * 80,
            "v1 port out of range": b"PROXY TCP4 192.0.2.1 192.0.2.2 1 65536\r\nhello",
            "v2 length past its maximum": v2_header(1, 0x11, b"\x00" * 2100),
            "v2 unknown family": v2_header(1, 0x31, b"\x00" * 216) + b"hello",
            "v2 wrong signature": b"\r\n\r\n\x00\r\nQUIZ\n" + b"\x21\x11\x00\x0c" + b"\x00" * 12,
            "closed before complete": b"PROXY TCP4 192.0.2.1",
        }
        for name, data in cases.items():
            with self.subTest(name):
                mark = proxy.mark()
                s = connect("127.0.0.1", route.port, env.t(5))
                self.addCleanup(s.close)
                try:
                    s.sendall(data)
                    if name == "closed before complete":
                        s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass  # the proxy may have closed already
                _, how = recv_until_closed(s, env.t(5))
                self.assertClosedBy(how)
                proxy.wait_access(env.t(5), start=mark, route="pp", close="proxy_header",
                                  backend="-")
        self.assertEqual(echo.accepts, 0, "a bad header reached a backend")
        self.assertEqual(self.errors(), len(cases))
        self.relay_once(route.port, b"PROXY TCP4 192.0.2.3 192.0.2.4 7 8\r\n")  # still serving
        self.assertEqual(echo.accepts, 1)

    def test_a_header_too_slow_is_closed_at_the_timeout(self):
        echo = self.backend("echo")
        route, proxy = self.start(echo, proxy_header_timeout_ms=300)
        s = connect("127.0.0.1", route.port, env.t(5))
        self.addCleanup(s.close)
        s.sendall(b"PROXY TCP4 192.0.2.1 ")  # and nothing more
        started = time.monotonic()
        _, how = recv_until_closed(s, env.t(10))
        print(f"\n  closed {how} after {time.monotonic() - started:.3f}s (timeout 0.3s)")
        proxy.wait_access(env.t(5), route="pp", close="proxy_header")
        self.assertTrue(proxy.records("proxy_header_refused", reason="timed out"))
        self.assertEqual(echo.accepts, 0)
        self.assertEqual(self.errors(), 1)


class SendProxyTest(ProxyTestCase):
    """An echo backend sends the header arus wrote back to the client: its exact bytes."""

    def test_v1_and_v2_carry_the_client_and_the_address_it_reached(self):
        echo = self.backend("echo")
        v1 = self.route("v1", [echo], send_proxy="v1")
        v2 = self.route("v2", [echo], send_proxy="v2")
        self.start_proxy([v1, v2])
        s = connect("127.0.0.1", v1.port, env.t(5))
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        expected = f"PROXY TCP4 127.0.0.1 127.0.0.1 {port} {v1.port}\r\n".encode()
        s.sendall(b"data")
        self.assertEqual(recv_exact(s, len(expected) + 4, env.t(5)), expected + b"data")

        s = connect("127.0.0.1", v2.port, env.t(5))
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        expected = v2_ipv4("127.0.0.1", port, "127.0.0.1", v2.port)
        self.assertEqual(recv_exact(s, len(expected), env.t(5)), expected)  # before any byte

    def test_the_accepted_header_is_passed_on_and_ipv6_written_as_such(self):
        echo = self.backend("echo")
        route = self.route("both", [echo], accept_proxy="on", send_proxy="v1")
        self.start_proxy([route])
        s = connect("127.0.0.1", route.port, env.t(5))
        self.addCleanup(s.close)
        started = time.monotonic()
        s.sendall(b"PROXY TCP6 2001:db8::5 ::1 1000 2000\r\n")
        expected = b"PROXY TCP6 2001:db8::5 ::1 1000 2000\r\n"
        self.assertEqual(recv_exact(s, len(expected), env.t(5)), expected)
        # No client byte follows the header: it must leave alone at once (measured, not
        # asserted; kept back by MSG_MORE it would take 200 ms).
        print(f"\n  header alone echoed after {1000 * (time.monotonic() - started):.1f} ms")
        s.close()
        # No accepted header: the destination is the local address the client reached.
        route6 = self.route("six", [echo], send_proxy="v2")
        route6.host = "::1"
        self.start_proxy([route6])
        s = connect("::1", route6.port, env.t(5))
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        expected = v2_ipv6("::1", port, "::1", route6.port)
        self.assertEqual(recv_exact(s, len(expected), env.t(5)), expected)

    def test_a_wildcard_listener_names_the_address_each_client_reached(self):
        # A listener bound to one address names it without asking the socket; one bound
        # to 0.0.0.0 must ask each accepted socket which address it reached.
        echo = self.backend("echo")
        route = self.route("any", [echo], send_proxy="v1")
        route.host, route.port = "0.0.0.0", free_port("0.0.0.0")
        self.start_proxy([route])
        for reached in ("127.0.0.1", "127.0.0.2"):
            s = connect(reached, route.port, env.t(5))
            self.addCleanup(s.close)
            host, port = s.getsockname()[:2]
            expected = f"PROXY TCP4 {host} {reached} {port} {route.port}\r\n".encode()
            self.assertEqual(recv_exact(s, len(expected), env.t(5)), expected)

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_filter_route_sends_the_header_unfiltered_first(self):
        echo = self.backend("echo")
        route = self.route("f", [echo], send_proxy="v1", filter="filter.so", filter_args="upper")
        self.start_proxy([route])
        s = connect("127.0.0.1", route.port, env.t(5))
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        s.sendall(b"abc")
        expected = f"PROXY TCP4 127.0.0.1 127.0.0.1 {port} {route.port}\r\n".encode()
        self.assertEqual(recv_exact(s, len(expected) + 3, env.t(5)), expected + b"ABC")
        wait_until(lambda: echo.records and len(echo.records[0].head) >= len(expected) + 3,
                   env.t(5), "the backend to receive everything")
        self.assertEqual(bytes(echo.records[0].head), expected + b"ABC")

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_the_header_leaves_at_once_when_a_filter_holds_the_first_bytes(self):
        # With the client's bytes waiting, the header is sent to share their segment
        # (MSG_MORE); a filter that keeps them back must not keep the header back too.
        echo = self.backend("echo")
        route = self.route("held", [echo], accept_proxy="on", send_proxy="v1",
                           filter="filter.so", filter_args="block=secret")
        self.start_proxy([route])
        s = connect("127.0.0.1", route.port, env.t(5))
        self.addCleanup(s.close)
        header = b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 2000\r\n"
        started = time.monotonic()
        s.sendall(header + b"sec")  # a prefix of the blocked word: the filter holds it
        self.assertEqual(recv_exact(s, len(header), env.t(5)), header)
        # Measured, not asserted: a header the kernel kept (MSG_MORE) would leave only
        # at its 200 ms ceiling; sent alone at once it is back in about a millisecond.
        print(f"\n  header echoed after {1000 * (time.monotonic() - started):.1f} ms")
        s.sendall(b"ond")
        self.assertEqual(recv_exact(s, 6, env.t(5)), b"second")

    def test_client_bytes_behind_an_accepted_header_follow_the_new_one(self):
        # The client's first bytes came with its header: the backend's header goes ahead
        # of them (held for one segment with them), then they follow unchanged.
        echo = self.backend("echo")
        route = self.route("both", [echo], accept_proxy="on", send_proxy="v2")
        self.start_proxy([route])
        s = connect("127.0.0.1", route.port, env.t(5))
        self.addCleanup(s.close)
        s.sendall(v2_ipv4("192.0.2.1", 1000, "192.0.2.2", 2000) + b"first bytes")
        expected = v2_ipv4("192.0.2.1", 1000, "192.0.2.2", 2000) + b"first bytes"
        self.assertEqual(recv_exact(s, len(expected), env.t(5)), expected)
        wait_until(lambda: echo.records and len(echo.records[0].head) >= len(expected),
                   env.t(5), "the backend to receive everything")
        self.assertEqual(bytes(echo.records[0].head), expected)


class ReloadTest(ReloadCase):
    def test_keys_change_on_reload_and_open_connections_keep_theirs(self):
        echo = self.backend("echo")
        route = self.route("pp", [echo])
        self.launch([route])
        held = connect("127.0.0.1", route.port, env.t(5))  # started without accept_proxy
        self.addCleanup(held.close)
        roundtrip(held, b"before", env.t(5))
        mark = self.p.mark()
        route.options.update(accept_proxy="on", send_proxy="v1")
        self.write_in_place(self.render([route]))
        self.wait_reloaded(mark)
        roundtrip(held, b"still plain", env.t(5))  # not cut, and no header asked of it
        s = connect("127.0.0.1", route.port, env.t(5))
        self.addCleanup(s.close)
        s.sendall(b"PROXY TCP4 192.0.2.5 192.0.2.6 50 60\r\nnew")
        expected = b"PROXY TCP4 192.0.2.5 192.0.2.6 50 60\r\nnew"
        self.assertEqual(recv_exact(s, len(expected), env.t(5)), expected)
        self.assertClosedBy(expect_closed(route.port, env.t(5), send=b"no header"))
        self.p.wait_access(env.t(5), start=mark, route="pp", close="proxy_header")


class ChainTest(ProxyTestCase):
    def test_second_proxy_names_the_original_client(self):
        echo = self.backend("echo")
        inner = self.route("inner", [echo], accept_proxy="on")
        inner_proxy = self.start_proxy([inner])
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                outer = self.route("outer", [f"127.0.0.1:{inner.port}"], send_proxy="v2")
                outer.host = host
                path = self.write_config([outer], name=f"outer-{host}.conf")
                outer_proxy = self.proxy(["-c", path])
                s = connect(host, outer.port, env.t(5))
                self.addCleanup(s.close)
                client = local_name(s)
                s.sendall(b"chained")
                self.assertEqual(recv_exact(s, 7, env.t(5)), b"chained")
                s.close()
                inner_proxy.wait_access(env.t(5), route="inner", client=client)
                outer_proxy.wait_access(env.t(5), route="outer", client=client)


if __name__ == "__main__":
    unittest.main()
