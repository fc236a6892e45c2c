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

    def test_filter_that_cannot_load_names_the_filter_line(self):
        text = ("[global]\n"                                  # 1
                "workers = 1\n"                               # 2
                "plugin_dir = %s\n"                           # 3
                "\n"                                          # 4
                "[route:web]\n"                               # 5
                "listen = 127.0.0.1:%d\n"                     # 6
                "backend = 127.0.0.1:9\n"                     # 7
                "filter = no-such-filter.so\n") % (env.PLUGIN_DIR, free_port())  # 8
        path = self.write_text(text)
        for args in (("-t",), ()):
            with self.subTest(args=args):
                rc, out = self.run_bin("-c", path, *args)
                self.assertEqual(rc, 1, out)
                self.assertIn("bad.conf:8: [route:web] filter: ", out)
                self.assertIn("no-such-filter.so", out)

    def test_group_without_user_is_refused_at_check_and_start(self):
        text = ("[global]\n"                          # 1
                "workers = 1\n"                       # 2
                "group = daemon\n"                    # 3
                "[route:web]\n"                       # 4
                "listen = 127.0.0.1:%d\n"             # 5
                "backend = 127.0.0.1:9\n") % free_port()  # 6
        path = self.write_text(text)
        for args in (("-t",), ()):
            with self.subTest(args=args):
                rc, out = self.run_bin("-c", path, *args)
                self.assertEqual(rc, 1, out)
                self.assertIn("bad.conf:3: [global] group: set without 'user'", out)

    def test_check_unknown_user_names_file_and_line(self):
        text = ("[global]\n"                          # 1
                "workers = 1\n"                       # 2
                "user = arus-no-such-user\n"          # 3
                "[route:web]\n"                       # 4
                "listen = 127.0.0.1:%d\n"             # 5
                "backend = 127.0.0.1:9\n") % free_port()  # 6
        path = self.write_text(text)
        for args in (("-t",), ()):
            with self.subTest(args=args):
                rc, out = self.run_bin("-c", path, *args)
                self.assertEqual(rc, 1, out)
                self.assertIn("bad.conf:3: [global] user: user 'arus-no-such-user': no such user",
                              out)

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
        port = free_port()
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        path, _ = self.valid_config(port)
        rc, out = self.run_bin("-c", path)
        self.assertEqual(rc, 1, out)
        self.assertTrue(str(port) in out or "in use" in out.lower(), out)
        self.assertFalse(re.search(r" info started( |$)", out, re.M), out)

    def test_stats_port_in_use_names_file_and_line(self):
        port = free_port()
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        text = ("[global]\n"                          # 1
                "workers = 1\n"                       # 2
                "stats_listen = 127.0.0.1:%d\n"       # 3
                "[route:web]\n"                       # 4
                "listen = 127.0.0.1:%d\n"             # 5
                "backend = 127.0.0.1:9\n") % (port, free_port())  # 6
        rc, out = self.run_bin("-c", self.write_text(text))
        self.assertEqual(rc, 1, out)
        self.assertIn("bad.conf:3: [global] stats_listen: bind 127.0.0.1:%d: " % port, out)
        self.assertIn("in use", out.lower())
        self.assertFalse(re.search(r" info started( |$)", out, re.M), out)

    def test_workers_flag(self):
        path, _ = self.valid_config()
        proxy = self.proxy(["-c", path, "-w", "3"])
        line = proxy.wait_started()
        self.assertEqual(logs.parse(line).fields.get("workers"), "3", line)


if __name__ == "__main__":
    unittest.main()
