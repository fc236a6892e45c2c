"""The command line: usage, version, usage errors (exit 2), -t validation (exit 0/1, no
ports bound), configuration errors naming file:line, missing file, port in use."""
import os
import re
import socket
import subprocess
import unittest

from harness import ProxyTestCase, env, free_port, logs
from harness.proxy import child_env


class CliTest(ProxyTestCase):
    def run_bin(self, *args, cwd=None):
        """(status, combined output) of a short run; the binary must not hang."""
        try:
            p = subprocess.run([env.BIN, *args], stdin=subprocess.DEVNULL, capture_output=True,
                               env=child_env(), cwd=cwd, timeout=env.t(10))
        except subprocess.TimeoutExpired:
            self.fail(f"arus-proxy {' '.join(args)} did not exit within {env.t(10):.0f}s")
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        report = logs.sanitizer_report(out)
        self.assertIsNone(report, f"sanitizer report:\n{report}")
        return p.returncode, out

    def valid_config(self, port=None, name="proxy.conf"):
        route = self.route("web", ["127.0.0.1:9"])
        if port is not None:
            route.port = port
        return self.write_config([route], name=name), route

    def write_text(self, text, name="bad.conf"):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_help(self):
        for flag in ("-h", "--help"):
            with self.subTest(flag=flag):
                rc, out = self.run_bin(flag)
                self.assertEqual(rc, 0, out)
                self.assertIn("usage", out.lower())
                self.assertIn("-c", out)

    def test_version(self):
        for flag in ("-V", "--version"):
            with self.subTest(flag=flag):
                rc, out = self.run_bin(flag)
                self.assertEqual(rc, 0, out)
                self.assertRegex(out, r"\d+\.\d+\.\d+")

    def test_usage_errors_exit_2(self):
        path, _ = self.valid_config()
        cases = [("--bogus",), ("-x",), ("-c", path, "-l", "loud"), ("-c", path, "-w", "abc"),
                 ("-c",)]
        for args in cases:
            with self.subTest(args=args):
                rc, out = self.run_bin(*args)
                self.assertEqual(rc, 2, out)
                self.assertTrue(out.strip(), "a usage error must say something")

    def test_check_valid_config_binds_nothing(self):
        # We hold the route's port: binding it would fail, so exit 0 proves -t binds nothing.
        port = free_port()
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        path, _ = self.valid_config(port)
        for flag in ("-t", "--test"):
            with self.subTest(flag=flag):
                rc, out = self.run_bin("-c", path, flag)
                self.assertEqual(rc, 0, out)

    def test_check_invalid_config_names_line(self):
        text = ("[global]\n"                          # 1
                "workers = 1\n"                       # 2
                "\n"                                  # 3
                "[route:web]\n"                       # 4
                "listen = 127.0.0.1:%d\n"             # 5
                "; a comment\n"                       # 6
                "backend = 127.0.0.1:70000\n") % free_port()  # 7
        path = self.write_text(text)
        rc, out = self.run_bin("-c", path, "-t")
        self.assertEqual(rc, 1, out)
        self.assertIn("bad.conf:7", out)
        self.assertIn("route:web", out)
        self.assertIn("backend", out)

    def test_unknown_key_names_line_and_key(self):
        path = self.write_text("[global]\nworkers = 1\nfrobnicate = yes\n"
                               "[route:web]\nlisten = 127.0.0.1:%d\nbackend = 127.0.0.1:9\n"
                               % free_port(), name="unknown.conf")
        for args in (("-t",), ()):
            with self.subTest(args=args):
                rc, out = self.run_bin("-c", path, *args)
                self.assertEqual(rc, 1, out)
                self.assertIn("unknown.conf:3", out)
                self.assertIn("frobnicate", out)

    def global_line_config(self, key_line, route_line=None):
        """bad.conf: [global] with `key_line` at line 3, then a valid route (lines 4-6) and
        `route_line` at line 7."""
        text = ("[global]\n"                                  # 1
                "workers = 1\n"                               # 2
                f"{key_line}\n"                               # 3
                "[route:web]\n"                               # 4
                f"listen = 127.0.0.1:{free_port()}\n"         # 5
                "backend = 127.0.0.1:9\n")                    # 6
        return self.write_text(text + (f"{route_line}\n" if route_line else ""))  # 7

    def assert_refused(self, path, text, runs=(("-t",), ())):
        """Each run (-t, start) exits 1 naming `text`, and serves nothing."""
        for args in runs:
            with self.subTest(args=args):
                rc, out = self.run_bin("-c", path, *args)
                self.assertEqual(rc, 1, out)
                self.assertIn(text, out)
                self.assertFalse(re.search(r" info started( |$)", out, re.M), out)

    def hold_port(self) -> int:
        """A 127.0.0.1 port this test listens on until it ends."""
        port = free_port()
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        return port

    def test_filter_that_cannot_load_names_the_filter_line(self):
        path = self.global_line_config(f"plugin_dir = {env.PLUGIN_DIR}",
                                       "filter = no-such-filter.so")
        self.assert_refused(path, "bad.conf:7: [route:web] filter: ")
        self.assert_refused(path, "no-such-filter.so")

    def test_group_without_user_is_refused_at_check_and_start(self):
        self.assert_refused(self.global_line_config("group = daemon"),
                            "bad.conf:3: [global] group: set without 'user'")

    def test_check_unknown_user_names_file_and_line(self):
        self.assert_refused(self.global_line_config("user = arus-no-such-user"),
                            "bad.conf:3: [global] user: user 'arus-no-such-user': no such user")

    def test_missing_config_file(self):
        missing = os.path.join(self.workdir, "nope.conf")
        for args in (("-c", missing), ("-c", missing, "-t")):
            with self.subTest(args=args):
                rc, out = self.run_bin(*args)
                self.assertEqual(rc, 1, out)
                self.assertIn("nope.conf", out)

    def test_default_config_path(self):
        empty = os.path.join(self.workdir, "empty")
        os.makedirs(empty)
        rc, out = self.run_bin("-t", cwd=empty)
        self.assertEqual(rc, 1, out)
        self.assertIn("proxy.conf", out)
        self.valid_config(name=os.path.join("empty", "proxy.conf"))
        rc, out = self.run_bin("-t", cwd=empty)
        self.assertEqual(rc, 0, out)

    def test_port_in_use(self):
        port = self.hold_port()
        path, _ = self.valid_config(port)
        rc, out = self.run_bin("-c", path)
        self.assertEqual(rc, 1, out)
        self.assertTrue(str(port) in out or "in use" in out.lower(), out)
        self.assertFalse(re.search(r" info started( |$)", out, re.M), out)

    def test_stats_port_in_use_names_file_and_line(self):
        port = self.hold_port()
        path = self.global_line_config(f"stats_listen = 127.0.0.1:{port}")
        self.assert_refused(path, f"bad.conf:3: [global] stats_listen: 127.0.0.1:{port} "
                            "already in use by another socket", runs=((),))

    def test_workers_flag(self):
        path, _ = self.valid_config()
        proxy = self.proxy(["-c", path, "-w", "3"])
        line = proxy.wait_started()
        self.assertEqual(logs.parse(line).fields.get("workers"), "3", line)


if __name__ == "__main__":
    unittest.main()
