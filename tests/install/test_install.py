"""make install / make uninstall into a staging folder (DESTDIR): the exact set of files
and modes, paths rewritten for PREFIX, a working binary, config and filter, an operator's
edited configuration kept, and nothing at all left behind by uninstall."""
import os
import re
import shutil
import stat
import tempfile
import unittest

from support import REPO, make, run

DOCS = ["README.md", "docs/architecture.md", "docs/configuration.md", "docs/operations.md",
        "docs/filters.md"]


def expected_files(prefix, sysconfdir):
    """{path relative to DESTDIR: mode} of everything install puts there."""
    p = prefix.lstrip("/")
    files = {
        f"{p}/sbin/arus-proxy": 0o755,
        f"{p}/include/arus/filter.h": 0o644,
        f"{p}/lib/arus-proxy/filters/filter.so": 0o644,
        f"{p}/share/doc/arus-proxy/examples/filter.c": 0o644,
        f"{p}/share/man/man8/arus-proxy.8": 0o644,
        f"{p}/lib/systemd/system/arus-proxy.service": 0o644,
        f"{sysconfdir.lstrip('/')}/arus-proxy/proxy.conf": 0o644,
    }
    for doc in DOCS:
        files[f"{p}/share/doc/arus-proxy/{doc}"] = 0o644
    return files


def tree(root):
    """{relative path: mode} of every file (and symlink) under root; folders left out."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def everything(root):
    """Every entry under root, folders included."""
    out = []
    for folder, dirs, names in os.walk(root):
        out += [os.path.relpath(os.path.join(folder, n), root) for n in dirs + names]
    return sorted(out)


class InstallTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.destdir = tempfile.mkdtemp(prefix="arus-install-")
        self.addCleanup(shutil.rmtree, self.destdir, True)
        # Open like / is: `-t` as root loads the staged filter as the configured user
        # (nobody), who must reach it, as it would under /usr/local.
        os.chmod(self.destdir, 0o755)

    def install(self, prefix, target="install"):
        status, out, err = make(target, f"DESTDIR={self.destdir}", f"PREFIX={prefix}")
        self.assertEqual(status, 0, f"make {target} failed:\n{out}\n{err}")
        return out + err

    def staged(self, path):
        return os.path.join(self.destdir, path.lstrip("/"))

    def read(self, path):
        with open(self.staged(path)) as f:
            return f.read()

    def check_install(self, prefix, sysconfdir):
        self.install(prefix)
        self.assertEqual(tree(self.destdir), expected_files(prefix, sysconfdir))
        sbin = f"{prefix}/sbin/arus-proxy"
        conf = f"{sysconfdir}/arus-proxy/proxy.conf"
        filters = f"{prefix}/lib/arus-proxy/filters"

        status, out, err = run([self.staged(sbin), "-V"], timeout=30)
        self.assertEqual(status, 0, err)
        self.assertRegex(out, r"^arus-proxy \d+\.\d+\.\d+")

        unit = self.read(f"{prefix}/lib/systemd/system/arus-proxy.service")
        self.assertIn(f"\nExecStart={sbin} -c {conf}\n", unit)
        self.assertIn(f"\nExecReload={sbin} -t -c {conf}\n", unit)
        self.assertIn("\nExecReload=/bin/kill -HUP $MAINPID\n", unit)
        self.assertIn("\nKillSignal=SIGTERM\n", unit)
        self.assertIn("\nLimitNOFILE=1048576\n", unit)
        if prefix != "/usr/local":
            self.assertNotIn("/usr/local", unit)

        config = self.read(conf)
        self.assertRegex(config, rf"\nplugin_dir = {re.escape(filters)}\n")
        # The installed binary accepts the installed configuration, and loads the
        # installed example filter (plugin_dir pointed into the staging folder).
        staged_config = config.replace(f"plugin_dir = {filters}",
                                       f"plugin_dir = {self.staged(filters)}")
        staged_config += ("\n[route:upper]\nlisten = 127.0.0.1:1\nbackend = 127.0.0.1:2\n"
                          "filter = filter.so\nfilter_args = upper\n")
        check = os.path.join(self.destdir, "check.conf")
        with open(check, "w") as f:
            f.write(staged_config)
        status, out, err = run([self.staged(sbin), "-t", "-c", check], timeout=30)
        self.assertEqual(status, 0, out + err)
        self.assertIn("config_ok", out + err)
        os.unlink(check)

    def check_uninstall_leaves_nothing(self, prefix):
        self.install(prefix, "uninstall")
        self.assertEqual(everything(self.destdir), [], "uninstall left these behind")

    def test_install_then_uninstall_leaves_nothing(self):
        self.check_install("/usr/local", "/usr/local/etc")
        self.check_uninstall_leaves_nothing("/usr/local")

    def test_prefix_usr_puts_the_configuration_in_etc(self):
        self.check_install("/usr", "/etc")
        self.check_uninstall_leaves_nothing("/usr")

    def test_an_edited_configuration_is_kept(self):
        self.install("/usr/local")
        conf = self.staged("/usr/local/etc/arus-proxy/proxy.conf")
        with open(conf, "a") as f:
            f.write("\n[route:mine]\nlisten = 127.0.0.1:7\nbackend = 127.0.0.1:8\n")
        with open(conf) as f:
            edited = f.read()

        out = self.install("/usr/local")  # a reinstall does not overwrite it
        self.assertIn("keeping the existing", out)
        with open(conf) as f:
            self.assertEqual(f.read(), edited)

        out = self.install("/usr/local", "uninstall")  # nor does uninstall remove it
        self.assertIn("it was changed after install", out)
        self.assertEqual(sorted(tree(self.destdir)), ["usr/local/etc/arus-proxy/proxy.conf"])

    def test_unit_passes_systemd_analyze_verify(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed (package systemd)")
        self.install("/usr/local")
        unit = self.read("/usr/local/lib/systemd/system/arus-proxy.service")
        # verify wants ExecStart's program to exist: point the copy into the staging tree.
        local = unit.replace("/usr/local/", self.staged("/usr/local") + "/")
        path = os.path.join(self.destdir, "arus-proxy.service")
        with open(path, "w") as f:
            f.write(local)
        status, out, err = run(["systemd-analyze", "verify", "--man=no", path], timeout=60)
        self.assertEqual(status, 0, out + err)


if __name__ == "__main__":
    unittest.main()
