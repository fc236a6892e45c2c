"""Reload and filters, against the real binary: a filter file replaced by a new version
(by rename or in place) serves new connections with the new code while open ones keep
the old; a broken replacement (no entry point, another ABI version) is refused and the
old code keeps working; a config edit adds and removes a filter on a live route.
The filters are compiled here from a tiny C source. Measured times are printed."""
import os
import shutil
import socket
import subprocess
import time
import unittest

from harness import case, config, env, recv_exact, roundtrip
from harness.client import connect
from test_reload_triggers import ReloadCase, measure

CC = shutil.which("cc")
SHIPPED = os.path.join(env.PLUGIN_DIR, "filter.so")

# CASE_MODE 1 upper-cases, 2 lower-cases ASCII letters, in both directions; 0 passes
# bytes as they are. With MARKER (a file name), the code appends "ctor uid=N" to that file
# when it is loaded and "create uid=N" when created for a route: whether, and as whom,
# it ran (test_privileges).
SOURCE = r"""
#include "arus/filter.h"
#ifndef ABI
#define ABI ARUS_FILTER_ABI_VERSION
#endif
#ifdef MARKER
#include <stdio.h>
#include <unistd.h>
static void mark(const char* what) {
  FILE* f = fopen(MARKER, "a");
  if (f) { fprintf(f, "%s uid=%d\n", what, (int)geteuid()); fclose(f); }
}
__attribute__((constructor)) static void on_load(void) { mark("ctor"); }
#else
static void mark(const char* what) { (void)what; }
#endif
static int f_create(const char* a, void** rs, char* e, size_t n) {
  (void)a; (void)e; (void)n; *rs = 0; mark("create"); return 0;
}
static void f_destroy(void* rs) { (void)rs; }
static int f_open(void* rs, const struct arus_conn_info* c, void** cs) {
  (void)rs; (void)c; *cs = 0; return 0;
}
static void f_close(void* cs) { (void)cs; }
static int f_transform(void* cs, int dir, const uint8_t* in, size_t in_len, uint8_t* out,
                       size_t out_cap, size_t* in_used, size_t* out_len, uint32_t flags) {
  size_t n = in_len < out_cap ? in_len : out_cap, i;
  (void)cs; (void)dir; (void)flags;
  for (i = 0; i < n; ++i) {
    uint8_t c = in[i];
    if (CASE_MODE == 1 && c >= 'a' && c <= 'z') c = (uint8_t)(c - 32);
    if (CASE_MODE == 2 && c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
    out[i] = c;
  }
  *in_used = n; *out_len = n;
  return ARUS_FILTER_CONTINUE;
}
static const struct arus_filter_api api = {ABI, sizeof(struct arus_filter_api), NAME,
  f_create, f_destroy, f_open, f_close, f_transform};
#ifdef NO_ENTRY
const struct arus_filter_api* not_the_entry(void) { return &api; }
#else
const struct arus_filter_api* arus_filter_entry(void) { return &api; }
#endif
"""

VARIANTS = {  # name: (cc -D flags, expected error text when refused)
    "upper": (["-DCASE_MODE=1", '-DNAME="case-upper"'], None),
    "lower": (["-DCASE_MODE=2", '-DNAME="case-lower"'], None),
    "no_entry": (["-DCASE_MODE=2", '-DNAME="case-broken"', "-DNO_ENTRY"], "missing entry point"),
    "abi2": (["-DCASE_MODE=2", '-DNAME="case-abi2"', "-DABI=2u"], "ABI version 2"),
}


@unittest.skipUnless(CC, "no C compiler (cc)")
class ReloadFilterTest(ReloadCase):
    @classmethod
    def setUpClass(cls):
        cls.build_dir = os.path.join(case.run_dir(), "reload-filters-build")
        os.makedirs(cls.build_dir, exist_ok=True)
        src = os.path.join(cls.build_dir, "case_filter.c")
        with open(src, "w") as f:
            f.write(SOURCE)
        include = str(env.REPO_DIR / "include")
        for name, (flags, _) in VARIANTS.items():
            out = os.path.join(cls.build_dir, name + ".so")
            subprocess.run([CC, "-std=c99", "-O1", "-fPIC", "-shared", "-I" + include, *flags,
                            src, "-o", out], check=True, timeout=60)

    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.plugin_dir = os.path.join(self.workdir, "plugins")
        os.makedirs(self.plugin_dir, mode=0o755)
        self.filter_path = os.path.join(self.plugin_dir, "case.so")
        self.route_ = self.route("f", [self.echo], filter="case.so")

    def built(self, variant) -> bytes:
        with open(os.path.join(self.build_dir, variant + ".so"), "rb") as f:
            return f.read()

    def install_by_rename(self, variant):
        tmp = os.path.join(self.plugin_dir, ".case.so.new")
        with open(tmp, "wb") as f:
            f.write(self.built(variant))
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.filter_path)

    def install_in_place(self, variant):
        """Overwrites the bytes of the file the proxy loaded: only safe with a private copy."""
        with open(self.filter_path, "r+b") as f:
            data = self.built(variant)
            f.write(data)
            f.truncate(len(data))

    def start(self):
        self.install_by_rename("upper")
        self.launch([self.route_], plugin_dir=self.plugin_dir)

    def held(self):
        s = self.client(self.route_.port)
        roundtrip_as(s, b"Held Connection\n", b"HELD CONNECTION\n")
        return s

    def fresh_gives(self, sent, want):
        with connect(self.route_.port, env.t(5)) as s:
            roundtrip_as(s, sent, want)

    def gives(self, port, sent, want) -> bool:
        with connect(port, env.t(5)) as s:
            s.sendall(sent)
            return recv_exact(s, len(sent), env.t(5)) == want

    def wait_new_code(self, t0, sent, want, port=None) -> float:
        """Until fresh connections answer `want`; seconds since t0."""
        port = port or self.route_.port
        return self.wait_effective(lambda: self.gives(port, sent, want),
                                   f"{want!r} from new code", t0)

    def replaced(self, install):
        self.start()
        h = self.held()
        gen = self.generation()
        mark = self.p.mark()
        t0 = time.monotonic()
        install("lower")
        took = self.wait_new_code(t0, b"Hello World\n", b"hello world\n")
        rec = self.wait_reloaded(mark)
        self.assertEqual(rec.fields.get("trigger"), "filter_file", rec.raw)
        self.assertEqual(self.generation(), gen + 1)
        self.assertEqual(self.reloads("error"), 0)
        # The open connection still runs the code it started with.
        for i in range(5):
            roundtrip_as(h, b"Old Code %d\n" % i, b"OLD CODE %d\n" % i)
        self.fresh_gives(b"New Code\n", b"new code\n")
        h.close()
        measure(self, f"filter write->new code serving {took * 1000:.1f} ms "
                      f"(reload duration_ms={rec.fields.get('duration_ms')})")

    def test_new_version_by_rename(self):
        self.replaced(self.install_by_rename)

    def test_new_version_in_place(self):
        self.replaced(self.install_in_place)

    def test_broken_versions_are_refused(self):
        self.start()
        h = self.held()
        for variant in ("no_entry", "abi2"):
            with self.subTest(variant):
                gen, errors = self.generation(), self.reloads("error")
                mark = self.p.mark()
                self.install_by_rename(variant)
                rec = self.wait_reload_failed(mark)
                self.assertIn("case.so", rec.fields.get("error", ""), rec.raw)
                self.assertIn(VARIANTS[variant][1], rec.fields.get("error", ""), rec.raw)
                self.assertEqual(self.reloads("error"), errors + 1)
                self.assertEqual(self.generation(), gen)
                # The loaded code keeps serving old and new connections.
                roundtrip_as(h, b"Still Upper\n", b"STILL UPPER\n")
                self.fresh_gives(b"Fresh Upper\n", b"FRESH UPPER\n")
        # A good file afterwards is picked up.
        mark = self.p.mark()
        self.install_by_rename("lower")
        self.wait_new_code(time.monotonic(), b"Back To Lower\n", b"back to lower\n")
        self.wait_reloaded(mark, trigger="filter_file")
        roundtrip_as(h, b"Held Still Upper\n", b"HELD STILL UPPER\n")

    @unittest.skipUnless(os.path.isfile(SHIPPED), f"{SHIPPED} not built")
    def test_filter_added_and_removed_by_config(self):
        plain = self.route("f", [self.echo])
        self.launch([plain])
        spliced = self.client(plain.port)
        roundtrip(spliced, b"plain bytes\n", env.t(5))
        filtered = config.Route("f", [self.echo.address],
                                {"filter": "filter.so", "filter_args": "upper"}, port=plain.port)
        mark = self.p.mark()
        self.write_by_rename(self.render([filtered]))
        self.wait_reloaded(mark)
        self.wait_new_code(time.monotonic(), b"now filtered\n", b"NOW FILTERED\n", plain.port)
        upper_held = self.client(plain.port)
        roundtrip_as(upper_held, b"upper held\n", b"UPPER HELD\n")
        roundtrip(spliced, b"still plain\n", env.t(5))
        mark = self.p.mark()
        self.write_by_rename(self.render([plain]))
        self.wait_reloaded(mark)
        self.wait_new_code(time.monotonic(), b"plain again\n", b"plain again\n", plain.port)
        roundtrip_as(upper_held, b"still upper\n", b"STILL UPPER\n")
        roundtrip(spliced, b"still plain at the end\n", env.t(5))
        # Both finish normally, each logged once.
        for s in (spliced, upper_held):
            client = "%s:%d" % s.getsockname()
            s.shutdown(socket.SHUT_WR)
            acc = self.p.wait_access(route="f", client=client, timeout=env.t(5))
            self.assertIn(acc.fields.get("close"), ("client_eof", "backend_eof"), acc.raw)


def roundtrip_as(s, sent: bytes, want: bytes):
    s.sendall(sent)
    got = recv_exact(s, len(want), env.t(5))
    if got != want:
        raise AssertionError(f"sent {sent!r}, expected {want!r}, got {got!r}")


if __name__ == "__main__":
    unittest.main()
