"""The make targets users type first (README, `make help` in the Makefile's head): each
exists and does what it says. Checked with `make -n -B` (print every command, run none),
so the test costs no build."""
import tempfile
import unittest

from support import make


class MakeTargetsTest(unittest.TestCase):
    def dry_run(self, target, build_dir):
        status, out, err = make("-n", "-B", target, f"BUILD={build_dir}")
        self.assertEqual(status, 0, f"make {target}: {err}")
        return out

    def test_build_makes_the_daemon_and_the_filter(self):
        with tempfile.TemporaryDirectory() as build_dir:
            out = self.dry_run("build", build_dir)
        self.assertIn(f"-o {build_dir}/arus-proxy", out)
        self.assertIn("c_plugins/filter.so", out)

    def test_build_plugin_makes_the_filter(self):
        with tempfile.TemporaryDirectory() as build_dir:
            self.assertIn("c_plugins/filter.so", self.dry_run("build-plugin", build_dir))

    def test_check_compiles_without_linking(self):
        with tempfile.TemporaryDirectory() as build_dir:
            out = self.dry_run("check", build_dir)
        self.assertIn("-fsyntax-only", out)


if __name__ == "__main__":
    unittest.main()
