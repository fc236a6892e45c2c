"""The shipped filter (c_plugins/filter.so) on the buffered path: upper in both directions,
integrity of large filtered transfers, block=WORD (also across two reads, case-sensitive;
its forwarded bytes exact both ways, and blocking after large forwarded reads),
sniff=N hand-back to splice, and filters that must be refused at load."""
import asyncio
import os
import socket
import subprocess
import unittest

from harness import (ProxyTestCase, env, expect_closed, recv_exact, recv_until_closed,
                     roundtrip, wait_until)
from harness.client import echo_transfer
from harness.proxy import child_env

PLUGIN = os.path.join(env.PLUGIN_DIR, "filter.so")
UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
COUNT = env.pick(20, 6)  # the 20 concurrent 2 MB streams; fewer under sanitizers
BYTES = env.pick(2 << 20, 512 << 10)
WORD = b"Forbidden-Word"  # block=WORD in tests that relay random bytes: never in them by chance


def upper(b) -> bytes:
    return bytes(b).translate(UPPER)


@unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
class FilterTest(ProxyTestCase):
    def filtered(self, backend, args, name="f", global_options=None):
        route = self.route(name, [backend], filter="filter.so", filter_args=f'{args}')
        return route, self.start_proxy([route], global_options)

    def test_upper_both_directions(self):
        banner = self.backend("banner", banner=b"220 hello\r\n")
        route, _ = self.filtered(banner, "upper")
        s = self.client(route.port)
        self.assertEqual(recv_exact(s, 11, env.t(5)), b"220 HELLO\r\n")
        s.sendall(b"Mixed Case abc xyz 123!\n")
        s.shutdown(socket.SHUT_WR)
        wait_until(lambda: banner.records and banner.records[0].eof_after is not None,
                   env.t(5), "the backend to see EOF")
        self.assertEqual(bytes(banner.records[0].head), b"MIXED CASE ABC XYZ 123!\n")

    def test_large_filtered_transfers_are_exact(self):
        echo = self.backend("echo")
        route, proxy = self.filtered(echo, "upper")

        async def main():
            return await asyncio.gather(*[
                echo_transfer(route.port, i, 7000 + i, BYTES, half_close=bool(i % 2),
                              timeout=env.t(60), expect=upper) for i in range(COUNT)])

        results = asyncio.run(main())
        bad = [r.describe() for r in results if not r.ok()]
        self.assertEqual(bad, [], proxy.tail())
        wait_until(lambda: echo.accepts == COUNT and echo.active == 0, env.t(10),
                   "backend connections to close")
        for rec in echo.records:
            self.assertEqual(bytes(rec.head), upper(rec.head), "backend got lower-case bytes")

    def test_block_word_closes_connection(self):
        echo = self.backend("echo")
        route, proxy = self.filtered(echo, "block=SECRET")
        how = expect_closed(route.port, env.t(5), send=b"hello SECRET world\n")
        self.assertIn(how, ("eof", "reset"))
        acc = proxy.wait_access(route="f")
        self.assertEqual(acc.fields.get("close"), "filter", acc.raw)
        self.assertFalse(echo.saw(b"SECRET"), "the blocked word reached the backend")

    def test_block_word_split_across_reads(self):
        echo = self.backend("echo")
        route, proxy = self.filtered(echo, "block=SECRET")
        s = self.client(route.port)
        s.sendall(b"hello SEC")
        # "hello " is safe and goes on; "SEC" may start the word and is held back.
        wait_until(lambda: echo.received_total() >= 6, env.t(5), "the safe prefix at the backend")
        self.assertEqual(recv_exact(s, 6, env.t(5)), b"hello ")
        s.sendall(b"RET and more\n")
        _, how = recv_until_closed(s, env.t(5))
        self.assertIn(how, ("eof", "reset"))
        self.assertEqual(proxy.wait_access(route="f").fields.get("close"), "filter")
        self.assertEqual(bytes(echo.records[0].head), b"hello ")

    def test_block_is_case_sensitive(self):
        echo = self.backend("echo")
        route, _ = self.filtered(echo, "block=SECRET")
        s = self.client(route.port)
        roundtrip(s, b"a secret and a SECRE and a ECRET\n", env.t(5))

    def test_block_forwards_large_streams_exactly_both_ways(self):
        # block=WORD without upper only inspects: the filter returns FORWARD and the
        # proxy sends the bytes it read as they are (spliced from its pipe on large reads).
        echo = self.backend("echo")
        route, proxy = self.filtered(echo, "block=" + WORD.decode())

        async def main():
            return await asyncio.gather(*[
                echo_transfer(route.port, i, 9000 + i, BYTES, half_close=bool(i % 2),
                              timeout=env.t(60)) for i in range(COUNT)])

        results = asyncio.run(main())
        bad = [r.describe() for r in results if not r.ok()]
        self.assertEqual(bad, [], proxy.tail())
        wait_until(lambda: echo.accepts == COUNT and echo.active == 0, env.t(10),
                   "backend connections to close")
        self.assertEqual(echo.received_total(), COUNT * BYTES)

    def test_block_after_large_forwarded_reads_across_a_read_boundary(self):
        echo = self.backend("echo")
        route, proxy = self.filtered(echo, "block=" + WORD.decode())
        s = self.client(route.port)
        payload = os.urandom(BYTES).replace(WORD[:1], b"-")  # no WORD, not even its start
        chunk = 64 << 10  # large reads: the proxy tees them and splices what it forwards
        for off in range(0, len(payload), chunk):
            piece = payload[off:off + chunk]
            s.sendall(piece)
            self.assertEqual(recv_exact(s, len(piece), env.t(10)), piece)
        s.sendall(b"ok " + WORD[:3])
        # "ok " is safe and goes on; the start of WORD is held back.
        wait_until(lambda: echo.received_total() >= len(payload) + 3, env.t(5),
                   "the safe prefix at the backend")
        self.assertEqual(recv_exact(s, 3, env.t(5)), b"ok ")
        s.sendall(WORD[3:] + b" and more\n")
        _, how = recv_until_closed(s, env.t(5))
        self.assertIn(how, ("eof", "reset"))
        self.assertEqual(proxy.wait_access(route="f").fields.get("close"), "filter")
        self.assertEqual(echo.received_total(), len(payload) + 3,
                         "bytes of the blocked word reached the backend")

    def test_sniff_hands_back_after_n_bytes(self):
        echo = self.backend("echo")
        route, proxy = self.filtered(echo, "upper sniff=4", global_options={"log_level": "debug"})
        s = self.client(route.port)
        s.sendall(b"abcdefgh")
        self.assertEqual(recv_exact(s, 8, env.t(5)), b"ABCDefgh")
        s.sendall(b"ijkl")
        self.assertEqual(recv_exact(s, 4, env.t(5)), b"ijkl")
        self.assertEqual(bytes(echo.records[0].head), b"ABCDefghijkl")
        s.close()
        # Proof the bytes after the hand-back went zero-copy: the proxy counts what each
        # handed-back direction moved by splice. "ijkl" came after the hand-back in both.
        spliced = proxy.wait_record("filter_spliced", env.t(5))
        self.assertEqual(spliced.fields["client_to_backend"], "4", spliced.fields)
        # The echo backend may send "ABCD" and "efgh" apart (as the proxy wrote them) or
        # together: "efgh" is then spliced, or passed on from the filter's input buffer.
        self.assertIn(spliced.fields["backend_to_client"], ("4", "8"), spliced.fields)


class FilterRefusedTest(ProxyTestCase):
    def check(self, filter_name, args=None, plugin_dir=None, expect_text=None):
        opts = {"filter": filter_name}
        if args is not None:
            opts["filter_args"] = args
        path = self.write_config([self.route("f", ["127.0.0.1:9"], **opts)],
                                 {"plugin_dir": plugin_dir} if plugin_dir else None)
        for extra in (["-t"], []):
            p = subprocess.run([env.BIN, "-c", path, *extra], capture_output=True,
                               env=child_env(), timeout=env.t(10), stdin=subprocess.DEVNULL)
            out = (p.stdout + p.stderr).decode("utf-8", "replace")
            self.assertEqual(p.returncode, 1, f"{extra}: {out}")
            self.assertIn(expect_text or filter_name, out)

    def test_missing_filter_file(self):
        self.check("no-such-filter.so")

    def test_not_a_shared_object(self):
        bogus_dir = os.path.join(self.workdir, "plugins")
        os.makedirs(bogus_dir)
        with open(os.path.join(bogus_dir, "bogus.so"), "w") as f:
            f.write("not an ELF file\n")
        self.check("bogus.so", plugin_dir=bogus_dir)

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_bad_filter_args(self):
        self.check("filter.so", args="shout", expect_text="shout")


if __name__ == "__main__":
    unittest.main()
