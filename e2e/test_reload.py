"""Hot reload: SIGHUP and file changes (in place and by rename) apply a new configuration
without dropping open connections or refusing clients on unchanged listeners; a broken
configuration is refused and the running one stays."""
import os
import signal
import time
import unittest

from harness import ProxyTestCase, config, env, free_port, roundtrip, wait_until
from harness import http
from harness.client import connect


class ReloadTest(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.stats_port = free_port()
        self.global_options = {"stats_listen": f"127.0.0.1:{self.stats_port}"}
        self.web = self.route("web", [self.echo])
        self.path = self.write_config([self.web], self.global_options)
        self.proxy_ = self.proxy(["-c", self.path])

    def metric(self, name, **labels):
        return http.metric(http.get_metrics(self.stats_port, env.t(5)), name, **labels)

    def rewrite(self, routes, by_rename=False, text=None):
        text = text if text is not None else config.render(routes, self.global_options)
        if by_rename:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, self.path)
        else:
            with open(self.path, "w") as f:
                f.write(text)

    def wait_generation(self, above):
        return wait_until(lambda: (self.metric("arus_config_generation") or 0) > above,
                          env.t(10), f"config generation above {above}", self.proxy_.tail)

    def test_sighup_bumps_generation_and_keeps_connections(self):
        s = self.client(self.web.port)
        roundtrip(s, b"before\n", env.t(5))
        gen = self.metric("arus_config_generation")
        ok = self.metric("arus_reloads_total", result="ok")
        self.proxy_.signal(signal.SIGHUP)
        self.wait_generation(gen)
        self.assertEqual(self.metric("arus_reloads_total", result="ok"), ok + 1)
        roundtrip(s, b"after\n", env.t(5))

    def test_file_change_adds_route(self):
        for by_rename in (False, True):
            with self.subTest(by_rename=by_rename):
                gen = self.metric("arus_config_generation")
                held = self.client(self.web.port)
                roundtrip(held, b"held\n", env.t(5))
                extra = self.route(f"extra{int(by_rename)}", [self.echo])
                self.rewrite([self.web, extra], by_rename=by_rename)
                self.wait_generation(gen)
                s = self.client(extra.port)
                roundtrip(s, b"new route\n", env.t(5))
                roundtrip(held, b"still open\n", env.t(5))

    def test_unchanged_listener_never_refuses_during_reload(self):
        gen = self.metric("arus_config_generation")
        self.proxy_.signal(signal.SIGHUP)
        served = 0
        deadline = time.monotonic() + env.t(10)
        # Connect continuously until the reload has landed (and a little past it).
        while time.monotonic() < deadline:
            s = connect(self.web.port, env.t(5))
            with s:
                roundtrip(s, b"during reload\n", env.t(5))
            served += 1
            if served % 5 == 0 and (self.metric("arus_config_generation") or 0) > gen:
                break
        self.assertGreater(self.metric("arus_config_generation"), gen, "reload never landed")
        for _ in range(5):
            s = connect(self.web.port, env.t(5))
            with s:
                roundtrip(s, b"after reload\n", env.t(5))

    def test_broken_config_is_refused_and_old_one_stays(self):
        errors = self.metric("arus_reloads_total", result="error") or 0
        gen = self.metric("arus_config_generation")
        mark = self.proxy_.mark()
        self.rewrite(None, text="[global]\nworkers = 1\n\n[route:web]\nlisten = "
                     f"{self.web.listen}\nbackend = 127.0.0.1:70000\n")
        wait_until(lambda: (self.metric("arus_reloads_total", result="error") or 0) > errors,
                   env.t(10), "a failed reload", self.proxy_.tail)
        self.proxy_.wait_line(lambda l: "proxy.conf:6" in l, env.t(5),
                              "the reload error naming file:line", start=mark)
        self.assertEqual(self.metric("arus_config_generation"), gen)
        s = self.client(self.web.port)
        roundtrip(s, b"old config serves\n", env.t(5))


if __name__ == "__main__":
    unittest.main()
