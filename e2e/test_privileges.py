"""Privilege drop ([global] user and group): started as root, the proxy binds its listeners
(one below port 1024 here) and then runs, every thread of it, as the configured user and
group for good, still relaying and still running filters from a folder that user cannot
write; it refuses to start with an unknown user or with a plugin_dir that user can write.
Skipped unless run as root."""
import grp
import os
import pwd
import random
import shutil
import signal
import socket
import stat
import tempfile
import unittest

from harness import (ProxyTestCase, config, env, free_port, http, recv_exact, roundtrip,
                     wait_until)

PLUGIN = os.path.join(env.PLUGIN_DIR, "filter.so")


def account(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


NOBODY = account("nobody")


def identity(pid):
    """[(uids, gids, groups)] of every thread of `pid`, from /proc/PID/task/*/status:
    uids and gids as (real, effective, saved, filesystem), groups as a sorted list."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = {}
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    fields[key] = value.split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        out.append((tuple(int(v) for v in fields["Uid"]), tuple(int(v) for v in fields["Gid"]),
                    sorted(int(v) for v in fields.get("Groups", []))))
    return out


def free_low_port() -> int:
    """A free 127.0.0.1 port below 1024: binding it takes root (or CAP_NET_BIND_SERVICE)."""
    candidates = list(range(600, 1000))
    random.shuffle(candidates)
    for port in candidates:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port below 1024")


@unittest.skipUnless(os.geteuid() == 0, "needs root: only root can switch to [global] user")
@unittest.skipIf(NOBODY is None, "no user 'nobody'")
class PrivilegesTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        # Our own folder, readable by the dropped user (a reload reads the file again);
        # the run's work folder is private to root.
        self.confdir = tempfile.mkdtemp(prefix="arus-e2e-privileges-")
        self.addCleanup(shutil.rmtree, self.confdir, True)
        os.chmod(self.confdir, 0o755)

    def write(self, routes, global_options):
        path = os.path.join(self.confdir, "proxy.conf")
        config.write(path, routes, global_options)
        os.chmod(path, 0o644)
        return path

    def filter_folder(self, name, mode):
        """A root-owned folder holding a copy of the shipped filter, with this mode."""
        folder = os.path.join(self.confdir, name)
        os.mkdir(folder)
        shutil.copy(PLUGIN, os.path.join(folder, "filter.so"))
        os.chmod(os.path.join(folder, "filter.so"), 0o644)
        os.chmod(folder, mode)
        return folder

    def assert_runs_as(self, proxy, uid, gid):
        want = ((uid,) * 4, (gid,) * 4, [gid])  # real, effective, saved, fs; groups

        def switched():
            if not proxy.running():
                raise AssertionError(f"the proxy exited\n{proxy.tail()}")
            threads = identity(proxy.pid)
            return threads and all(t == want for t in threads)
        wait_until(switched, env.t(5), f"every thread to run as uid {uid} gid {gid}",
                   lambda: f"{identity(proxy.pid)}\n{proxy.tail()}")
        self.assertGreaterEqual(len(identity(proxy.pid)), 2, "expected worker threads too")

    def test_binds_a_low_port_then_runs_as_the_user(self):
        echo = self.backend("echo")
        route = self.route("low", [echo])
        route.port = free_low_port()
        proxy = self.proxy(["-c", self.write([route], {"user": "nobody"})])
        self.assert_runs_as(proxy, NOBODY.pw_uid, NOBODY.pw_gid)
        s = self.client(route.port)
        roundtrip(s, b"relayed after the drop\n", env.t(5))

    def test_named_group_replaces_the_primary_group(self):
        try:
            daemon = grp.getgrnam("daemon")
        except KeyError:
            self.skipTest("no group 'daemon'")
        echo = self.backend("echo")
        route = self.route("web", [echo])
        proxy = self.proxy(["-c", self.write([route], {"user": "nobody", "group": "daemon"})])
        self.assert_runs_as(proxy, NOBODY.pw_uid, daemon.gr_gid)
        roundtrip(self.client(route.port), b"ping\n", env.t(5))

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_filters_run_from_a_folder_the_user_cannot_write(self):
        folder = self.filter_folder("filters", 0o755)
        echo = self.backend("echo")
        route = self.route("upper", [echo], filter="filter.so", filter_args="upper")
        proxy = self.proxy(["-c", self.write([route], {"user": "nobody", "plugin_dir": folder})])
        self.assert_runs_as(proxy, NOBODY.pw_uid, NOBODY.pw_gid)
        s = self.client(route.port)
        s.sendall(b"shout\n")
        self.assertEqual(recv_exact(s, 6, env.t(5)), b"SHOUT\n")

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_reload_after_the_drop_reads_the_file_and_filters_as_the_user(self):
        folder = self.filter_folder("filters", 0o755)
        echo = self.backend("echo")
        route = self.route("upper", [echo], filter="filter.so", filter_args="upper")
        stats_port = free_port()
        options = {"user": "nobody", "plugin_dir": folder,
                   "stats_listen": f"127.0.0.1:{stats_port}"}
        proxy = self.proxy(["-c", self.write([route], options)])
        self.assert_runs_as(proxy, NOBODY.pw_uid, NOBODY.pw_gid)

        def metric(name, **labels):
            return http.metric(http.get_metrics(stats_port, env.t(5)), name, **labels)
        generation = metric("arus_config_generation")
        proxy.signal(signal.SIGHUP)
        wait_until(lambda: metric("arus_config_generation") > generation, env.t(10),
                   "a reload after the drop", proxy.tail)
        self.assertEqual(metric("arus_reloads_total", result="error"), 0, proxy.tail())
        self.assert_runs_as(proxy, NOBODY.pw_uid, NOBODY.pw_gid)
        s = self.client(route.port)
        s.sendall(b"again\n")
        self.assertEqual(recv_exact(s, 6, env.t(5)), b"AGAIN\n")

    @unittest.skipUnless(os.path.isfile(PLUGIN), f"{PLUGIN} not built")
    def test_refuses_a_plugin_dir_the_user_can_write(self):
        folder = self.filter_folder("open", 0o777)
        self.assertTrue(os.stat(folder).st_mode & stat.S_IWOTH)
        route = self.route("upper", ["127.0.0.1:9"], filter="filter.so", filter_args="upper")
        proxy = self.proxy(["-c", self.write([route], {"user": "nobody", "plugin_dir": folder})],
                           wait_started=False)
        self.assertEqual(proxy.wait_exit(env.t(10)), 1, proxy.tail())
        out = proxy.output()
        self.assertIn(folder, out)
        self.assertIn("writable", out)
        self.assertNotIn(" info started", out)

    def test_unknown_user_is_refused_at_start(self):
        route = self.route("web", ["127.0.0.1:9"])
        proxy = self.proxy(["-c", self.write([route], {"user": "arus-no-such-user"})],
                           wait_started=False)
        self.assertEqual(proxy.wait_exit(env.t(10)), 1, proxy.tail())
        self.assertIn("user 'arus-no-such-user': no such user", proxy.output())


if __name__ == "__main__":
    unittest.main()
