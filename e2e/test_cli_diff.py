"""`arus-proxy -t -c NEW --diff OLD`: the reload plan between two files as JSON on stdout,
exit 0 (no change), 3 (changes), 1 (NEW invalid), 2 (--diff without -t)."""
import json
import os
import subprocess
import unittest

from harness import ProxyTestCase, env, logs
from harness.proxy import child_env


class CliDiffTest(ProxyTestCase):
    def run_diff(self, new, old, *extra):
        p = subprocess.run([env.BIN, *extra, "-c", new, "--diff", old], stdin=subprocess.DEVNULL,
                           capture_output=True, env=child_env(), timeout=env.t(10))
        err = p.stderr.decode("utf-8", "replace")
        self.assertIsNone(logs.sanitizer_report(err), err)
        return p.returncode, p.stdout.decode(), err

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def setUp(self):
        super().setUp()
        self.web = self.route("web", ["127.0.0.1:9", "127.0.0.1:10"])
        self.old = self.write_config([self.web], name="old.conf")

    def test_no_change_exits_0(self):
        rc, out, err = self.run_diff(self.old, self.old, "-t")
        self.assertEqual(rc, 0, err)
        plan = json.loads(out)
        self.assertEqual(plan["routes"], {"added": [], "removed": [], "changed": []})
        self.assertEqual(plan["listeners"]["kept"], [self.web.listen])
        self.assertEqual(plan["connections_staying_on_old_generation"], {})

    def test_changes_exit_3_with_the_plan(self):
        db = self.route("db", ["127.0.0.1:11"])
        web = self.route("web", ["127.0.0.1:9 weight=3", "127.0.0.1:12"])
        web.port = self.web.port
        new = self.write_config([web, db], {"workers": 4}, name="new.conf")
        rc, out, err = self.run_diff(new, self.old, "-t")
        self.assertEqual(rc, 3, err)
        plan = json.loads(out)
        self.assertEqual(plan["routes"]["added"], ["db"])
        self.assertEqual(plan["routes"]["changed"], [{"name": "web", "keys": ["backend"]}])
        self.assertEqual(plan["listeners"]["bound"], [db.listen])
        self.assertEqual(plan["backends"]["added"],
                         [{"route": "web", "backend": "127.0.0.1:12"},
                          {"route": "db", "backend": "127.0.0.1:11"}])
        self.assertEqual(plan["backends"]["removed"], [{"route": "web", "backend": "127.0.0.1:10"}])
        self.assertEqual(plan["restart_needed"], ["workers"])
        for key in ("filters", "connections_staying_on_old_generation"):
            self.assertIn(key, plan)

    def test_invalid_new_exits_1_naming_the_line(self):
        bad = self.write("bad.conf", "[route:web]\nlisten = 127.0.0.1:1\nbackend = nowhere\n")
        rc, out, err = self.run_diff(bad, self.old, "-t")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")
        self.assertIn("bad.conf:3: [route:web] backend", err)

    def test_diff_without_test_is_a_usage_error(self):
        rc, _, err = self.run_diff(self.old, self.old)
        self.assertEqual(rc, 2, err)
        self.assertIn("--diff needs -t", err)


if __name__ == "__main__":
    unittest.main()
