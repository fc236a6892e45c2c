"""A configuration without routes is an error (issue 11 item 4), against the real binary:
a file caught empty or cut off before its first route, as an in-place rewrite leaves it
for a moment, is refused at reload (the running configuration keeps serving, stats
listener included, and arus_reloads_total{result="error"} grows), at start and by -t."""
import os
import subprocess
import unittest

from harness import env, logs, roundtrip, wait_until
from harness.proxy import child_env
from test_reload_triggers import ReloadCase


class NoRoutesTest(ReloadCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.web = self.route("web", [self.echo])

    def refused_reload(self, text, needle):
        """Write `text` in place; the reload must fail naming `needle`, and nothing change."""
        gen, errors = self.generation(), self.reloads("error")
        mark = self.p.mark()
        self.write_in_place(text)
        rec = self.wait_reload_failed(mark)
        self.assertIn(needle, rec.fields.get("error", ""), rec.raw)
        wait_until(lambda: self.reloads("error") == errors + 1, env.t(5),
                   "arus_reloads_total{result=\"error\"} to grow", self.p.tail)
        self.assertEqual(self.generation(), gen)
        self.assertFalse(self.p.records("reloaded"), "a configuration without routes applied")

    def test_emptied_or_cut_off_file_keeps_running_config(self):
        self.launch([self.web])
        held = self.client(self.web.port)
        roundtrip(held, b"before\n", env.t(5))
        full = self.render([self.web])
        # `: > proxy.conf`, then the [global] section alone: a rewrite caught half-way.
        global_only = full[:full.index("[route:web]")]
        cases = [("emptied", "", "proxy.conf:1: the file is empty"),
                 ("cut off", global_only,
                  f"proxy.conf:{len(global_only.splitlines())}: no [route:NAME] section")]
        for what, text, needle in cases:
            with self.subTest(what):
                self.refused_reload(text, needle)
                # Every listener stays: the route's and the stats one (metrics() above).
                self.echo_once(self.web.port, f"still served ({what})\n".encode())
                roundtrip(held, f"held ({what})\n".encode(), env.t(5))
        # The whole file back, with one more route: applied as usual.
        extra = self.route("back", [self.echo])
        mark = self.p.mark()
        self.write_in_place(self.render([self.web, extra]))
        self.wait_reloaded(mark)
        self.echo_once(extra.port, b"complete file applied\n")
        self.assertEqual(self.reloads("error"), len(cases))

    def test_start_and_check_refuse_file_without_routes(self):
        path = os.path.join(self.workdir, "noroutes.conf")
        for what, text, needle in [("empty", "", "noroutes.conf:1: the file is empty"),
                                   ("global only", "[global]\nworkers = 1\n",
                                    "noroutes.conf:2: no [route:NAME] section")]:
            with open(path, "w") as f:
                f.write(text)
            for args in (["-t", "-c", path], ["-c", path]):
                with self.subTest(what=what, args=args[0]):
                    try:
                        run = subprocess.run([env.BIN, *args], stdin=subprocess.DEVNULL,
                                             capture_output=True, env=child_env(),
                                             timeout=env.t(10))
                    except subprocess.TimeoutExpired:
                        self.fail(f"arus-proxy {' '.join(args)} kept running without routes")
                    out = run.stdout.decode("utf-8", "replace") + \
                        run.stderr.decode("utf-8", "replace")
                    self.assertIsNone(logs.sanitizer_report(out), out)
                    self.assertEqual(run.returncode, 1, out)
                    self.assertIn(needle, out)


if __name__ == "__main__":
    unittest.main()
