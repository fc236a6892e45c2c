"""Hot-reload triggers, each against the real binary: a save by rename, an in-place
rewrite, a Kubernetes ConfigMap symlink swap and SIGHUP all apply a new configuration;
byte-identical content does nothing; workers changes wait for a restart.
Also home of ReloadCase, the helpers the other test_reload_*.py files share (test thread
only). Measured times are printed, never asserted."""
import os
import shutil
import signal
import sys
import time
import unittest

from harness import ProxyTestCase, config, env, free_port, http, logs, roundtrip, wait_until
from harness.client import connect


def measure(test, text):
    """One line of measurements in the run's output; numbers are for the report only."""
    sys.stdout.write(f"\n    measure {test.id().split('.', 1)[1]}: {text} ")
    sys.stdout.flush()


def is_debug_reload_line(line) -> bool:
    rec = logs.parse(line)
    return rec is not None and rec.level == "debug" and "reload" in rec.msg


class ReloadCase(ProxyTestCase):
    """A proxy with a stats endpoint and a config file the test rewrites."""

    def setUp(self):
        super().setUp()
        self.stats_port = free_port()
        self.global_options = {"stats_listen": f"127.0.0.1:{self.stats_port}"}
        self.conf_path = os.path.join(self.workdir, "proxy.conf")

    # -- config file --------------------------------------------------------------------
    def render(self, routes, **global_extra) -> str:
        return config.render(routes, {**self.global_options, **global_extra})

    def launch(self, routes, path=None, **global_extra):
        """Write the config (unless `path` already holds one) and start the proxy on it."""
        self.global_options.update(global_extra)
        if path is None:
            self.write_in_place(self.render(routes))
        else:
            self.conf_path = path
        self.p = self.proxy(["-c", self.conf_path])
        return self.p

    def write_in_place(self, text, path=None):
        """open(O_TRUNC) + one write + close, as `echo > file` or a simple editor does."""
        with open(path or self.conf_path, "w") as f:
            f.write(text)

    def write_by_rename(self, text, path=None):
        """A complete new file in the same folder renamed over the old one (vim, ansible)."""
        path = path or self.conf_path
        tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)

    # -- observing the proxy ------------------------------------------------------------
    def metrics(self) -> dict:
        return http.get_metrics(self.stats_port, env.t(5))

    def generation(self) -> int:
        return int(http.metric(self.metrics(), "arus_config_generation"))

    def reloads(self, result) -> int:
        return int(http.metric(self.metrics(), "arus_reloads_total", result=result) or 0)

    def wait_reloaded(self, mark, timeout=None, **want) -> logs.LogLine:
        """The first ` info reloaded ` line printed after `mark` (fields as in `want`)."""
        return self.p.wait_record("reloaded", timeout or env.t(10), start=mark, **want)

    def wait_reload_failed(self, mark, timeout=None) -> logs.LogLine:
        return self.p.wait_record("reload_failed", timeout or env.t(10), start=mark)

    def assert_no_reload_error(self, mark):
        failed = [l for l in self.p.lines()[mark:] if " reload_failed " in l]
        self.assertEqual(failed, [], "unexpected failed reload")

    def echo_once(self, port, message: bytes, timeout=None):
        """A fresh connection that must echo `message`; closed afterwards."""
        with connect(port, timeout or env.t(5)) as s:
            roundtrip(s, message, timeout or env.t(5))

    def wait_effective(self, check, what, t0=None, streak=3) -> float:
        """Poll `check()` (one fresh connection; True when the new config served it) until
        it holds `streak` times in a row; seconds since t0. Tests whose subject is not the
        moment of the switch use this; test_reload_routes checks that moment itself."""
        t0 = time.monotonic() if t0 is None else t0
        deadline = t0 + env.t(5)
        run = 0
        while run < streak:
            run = run + 1 if check() else 0
            if run < streak and time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.p.tail()}")
        return time.monotonic() - t0

    def wait_serving(self, port, t0, timeout=None) -> float:
        """Poll a new listener until a connection echoes; seconds since `t0` (monotonic)."""
        timeout = timeout or env.t(5)
        deadline = t0 + timeout
        while True:
            try:
                self.echo_once(port, b"are you there?\n", env.t(2))
                return time.monotonic() - t0
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"127.0.0.1:{port} still refused {timeout:.1f}s after "
                                         f"the change\n{self.p.tail()}") from None
                time.sleep(0.005)


class ConfigMap:
    """A Kubernetes ConfigMap volume: FOLDER/proxy.conf -> ..data/proxy.conf, ..data -> a
    timestamped folder; an update writes a new timestamped folder, points a new symlink
    ..data_tmp at it, renames ..data_tmp over ..data and removes the old folder."""

    def __init__(self, folder):
        self.folder = folder
        self.count = 0
        os.makedirs(folder)
        self.current = self._new_version_dir()
        os.symlink(os.path.basename(self.current), os.path.join(folder, "..data"))
        os.symlink(os.path.join("..data", "proxy.conf"), self.path)

    @property
    def path(self) -> str:
        return os.path.join(self.folder, "proxy.conf")

    def _new_version_dir(self) -> str:
        self.count += 1
        d = os.path.join(self.folder, f"..2026_12_01_10_00_{self.count:02d}.{os.getpid()}")
        os.makedirs(d)
        return d

    def write_initial(self, text):
        with open(os.path.join(self.current, "proxy.conf"), "w") as f:
            f.write(text)

    def publish(self, text):
        new = self._new_version_dir()
        with open(os.path.join(new, "proxy.conf"), "w") as f:
            f.write(text)
        os.chmod(os.path.join(new, "proxy.conf"), 0o644)
        tmp_link = os.path.join(self.folder, "..data_tmp")
        os.symlink(os.path.basename(new), tmp_link)
        os.rename(tmp_link, os.path.join(self.folder, "..data"))
        shutil.rmtree(self.current)
        self.current = new


class ReloadTriggerTest(ReloadCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.web = self.route("web", [self.echo])

    def held(self, port):
        """An open connection that must survive every reload of the test."""
        s = self.client(port)
        roundtrip(s, b"held before\n", env.t(5))
        return s

    def change_and_check(self, write, name, trigger="config_file"):
        """Add route `name` with `write(text)`; the new listener must serve, the reload be
        logged with `trigger`, the generation and ok counter grow by one."""
        gen, ok = self.generation(), self.reloads("ok")
        extra = self.route(name, [self.echo])
        self.routes.append(extra)
        mark = self.p.mark()
        t0 = time.monotonic()
        write(self.render(self.routes))
        serving = self.wait_serving(extra.port, t0)
        rec = self.wait_reloaded(mark)
        self.assertEqual(rec.fields.get("trigger"), trigger, rec.raw)
        self.assertEqual(int(rec.fields.get("generation")), gen + 1, rec.raw)
        self.assertEqual(int(rec.fields.get("routes")), len(self.routes), rec.raw)
        self.assertEqual(self.generation(), gen + 1)
        self.assertEqual(self.reloads("ok"), ok + 1)
        self.assertEqual(self.reloads("error"), 0)
        self.assert_no_reload_error(mark)
        measure(self, f"{name}: write->new route serving {serving * 1000:.1f} ms "
                      f"(reload duration_ms={rec.fields.get('duration_ms')})")

    def test_save_by_rename(self):
        self.routes = [self.web]
        self.launch(self.routes)
        h = self.held(self.web.port)
        for i in range(2):  # the watch must survive the first rename replacing the inode
            self.change_and_check(self.write_by_rename, f"renamed{i}")
        roundtrip(h, b"held after\n", env.t(5))
        self.echo_once(self.web.port, b"web still serves\n")

    def test_in_place_rewrite(self):
        self.routes = [self.web]
        self.launch(self.routes)
        h = self.held(self.web.port)
        for i in range(2):
            self.change_and_check(self.write_in_place, f"inplace{i}")
        roundtrip(h, b"held after\n", env.t(5))

    def test_configmap_symlink_swap(self):
        cm = ConfigMap(os.path.join(self.workdir, "configmap"))
        self.routes = [self.web]
        cm.write_initial(self.render(self.routes))
        self.launch(self.routes, path=cm.path)
        h = self.held(self.web.port)
        for i in range(3):  # later swaps prove the proxy watches the mount, not a target
            self.change_and_check(cm.publish, f"swap{i}")
        roundtrip(h, b"held after\n", env.t(5))

    def test_sighup_reloads_even_unchanged(self):
        self.routes = [self.web]
        self.launch(self.routes)
        h = self.held(self.web.port)
        for _ in range(2):
            gen, ok = self.generation(), self.reloads("ok")
            mark = self.p.mark()
            t0 = time.monotonic()
            self.p.signal(signal.SIGHUP)
            wait_until(lambda: self.generation() > gen, env.t(10), "the generation to grow",
                       self.p.tail)
            took = time.monotonic() - t0
            rec = self.wait_reloaded(mark)
            self.assertEqual(rec.fields.get("trigger"), "SIGHUP", rec.raw)
            self.assertEqual(self.generation(), gen + 1)
            self.assertEqual(self.reloads("ok"), ok + 1)
            measure(self, f"SIGHUP->generation visible {took * 1000:.1f} ms "
                          f"(reload duration_ms={rec.fields.get('duration_ms')})")
        # SIGHUP racing the watcher's own reload of a changed file: both apply cleanly.
        extra = self.route("hup", [self.echo])
        self.routes.append(extra)
        mark = self.p.mark()
        self.write_by_rename(self.render(self.routes))
        self.p.signal(signal.SIGHUP)
        self.wait_serving(extra.port, time.monotonic())
        self.assert_no_reload_error(mark)
        roundtrip(h, b"held after\n", env.t(5))

    def test_identical_content_does_nothing(self):
        self.routes = [self.web]
        self.launch(self.routes, log_level="debug")
        text = self.render(self.routes)
        gen, ok = self.generation(), self.reloads("ok")
        for write in (self.write_by_rename, self.write_in_place):
            mark = self.p.mark()
            write(text)
            # Logged at debug; the name of the line is not part of the contract.
            line = self.p.wait_line(is_debug_reload_line, env.t(10),
                                    "a debug line about the skipped reload", start=mark)
            self.assertNotIn(" reloaded ", line)
            self.assertFalse(self.p.records("reloaded"), "identical content reloaded")
            self.assertEqual((self.generation(), self.reloads("ok")), (gen, ok))
        self.assertEqual(self.reloads("error"), 0)
        self.echo_once(self.web.port, b"unchanged\n")
        # The same bytes on SIGHUP do reload; exactly one step proves nothing came late.
        mark = self.p.mark()
        self.p.signal(signal.SIGHUP)
        self.wait_reloaded(mark, trigger="SIGHUP")
        self.assertEqual((self.generation(), self.reloads("ok")), (gen + 1, ok + 1))

    def test_workers_change_waits_for_restart(self):
        self.routes = [self.web]
        self.launch(self.routes, workers=2)
        extra = self.route("more", [self.echo])
        self.routes.append(extra)
        mark = self.p.mark()
        t0 = time.monotonic()
        self.write_by_rename(self.render(self.routes, workers=1))
        self.wait_serving(extra.port, t0)
        warn = self.p.wait_record("reload_needs_restart", env.t(5), start=mark)
        self.assertEqual(warn.level, "warn", warn.raw)
        self.assertIn("workers", warn.fields.get("keys", ""), warn.raw)
        self.wait_reloaded(mark)
        for i in range(4):
            self.echo_once(self.web.port, b"after workers change %d\n" % i)


if __name__ == "__main__":
    unittest.main()
