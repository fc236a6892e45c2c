"""The manual page man/arus-proxy.8: it renders without warnings, lists exactly the
options --help lists with the same synopsis and version, and documents every
configuration key the loader accepts (as does docs/configuration.md)."""
import os
import re
import shutil
import unittest

from support import BIN, REPO, plain_text, run

MAN_SOURCE = os.path.join(REPO, "man", "arus-proxy.8")
CONFIG_DOC = os.path.join(REPO, "docs", "configuration.md")
LOADER = os.path.join(REPO, "src", "config", "ini_loader.cpp")

# "  -c, --config FILE    configuration ..." in --help; "-c, --config FILE" in the man page.
_HELP_OPTION = re.compile(r"^\s+-(\w), --([\w-]+)(?: ([A-Z]+))?\s{2,}\S")
_MAN_OPTION = re.compile(r"^\s+-(\w), --([\w-]+)(?: ([A-Z]+))?\s*$")


def ensure_man():
    """True when `man` is there, installing man-db first when we are root and can."""
    if shutil.which("man"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "man-db"], env=env)
    return shutil.which("man") is not None


def sections(text):
    """{SECTION NAME: body} of rendered man page text."""
    out, name = {}, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            name = line.strip()
            out[name] = []
        elif name:
            out[name].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def options(lines, pattern):
    """{(short, long, argument name or None)} of the option lines in `lines`."""
    found = set()
    for line in lines:
        m = pattern.match(line)
        if m:
            found.add((m.group(1), m.group(2), m.group(3) is not None))
    return found


def loader_keys():
    """The keys the configuration loader accepts, from its source: (global, route)."""
    with open(LOADER) as f:
        source = f.read()
    lists = []
    for name in ("kGlobalKeys", "kRouteKeys"):
        m = re.search(name + r"\[\]\s*=\s*\{([^}]*)\}", source)
        if not m:
            return None
        lists.append(re.findall(r'"(\w+)"', m.group(1)))
    return lists


class ManPageTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not ensure_man():
            raise unittest.SkipTest("man is not installed and could not be (apt-get install "
                                    "man-db as root); the man page tests did not run")
        env = dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
        status, out, err = run(["man", "--warnings", "-l", MAN_SOURCE], env=env, timeout=60)
        cls.render_status, cls.render_err = status, err
        cls.text = plain_text(out)
        cls.sections = sections(cls.text)

    def help_text(self):
        status, out, err = run([BIN, "--help"], timeout=30)
        self.assertEqual(status, 0, err)
        return out

    def test_renders_without_warnings(self):
        self.assertEqual(self.render_status, 0, self.render_err)
        self.assertEqual(self.render_err.strip(), "", "man/groff warnings")
        for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION", "RELOAD",
                     "SIGNALS", "STATS ENDPOINT", "EXIT STATUS", "FILES", "SEE ALSO"):
            self.assertIn(name, self.sections, f"section {name} missing")
        self.assertIn("arus-proxy - Layer-4 TCP reverse proxy", self.sections["NAME"])

    def test_options_match_help(self):
        help_options = options(self.help_text().splitlines(), _HELP_OPTION)
        man_options = options(self.sections["OPTIONS"].splitlines(), _MAN_OPTION)
        self.assertGreaterEqual(len(help_options), 6, "could not read the --help options")
        self.assertEqual(man_options, help_options)

    def test_synopsis_matches_usage_line(self):
        usage = self.help_text().splitlines()[0]
        self.assertTrue(usage.startswith("usage: "), usage)
        synopsis = " ".join(self.sections["SYNOPSIS"].split())
        self.assertEqual(synopsis, usage[len("usage: "):])

    def test_version_matches_binary(self):
        status, out, _ = run([BIN, "--version"], timeout=30)
        self.assertEqual(status, 0)
        version = out.split()[-1]
        with open(MAN_SOURCE) as f:
            title = next(line for line in f if line.startswith(".TH "))
        self.assertIn(f'"arus\\-proxy {version}"', title)

    def test_every_configuration_key_is_documented(self):
        keys = loader_keys()
        if keys is None:
            self.skipTest(f"kGlobalKeys/kRouteKeys not found in {LOADER}")
        configuration = self.sections["CONFIGURATION"]
        with open(CONFIG_DOC) as f:
            reference = f.read()
        for key in keys[0] + keys[1]:
            with self.subTest(key=key):
                self.assertRegex(configuration, rf"(?m)^\s+{key} = ", "in the man page")
                self.assertIn(f"`{key}`", reference, "in docs/configuration.md")


if __name__ == "__main__":
    unittest.main()
