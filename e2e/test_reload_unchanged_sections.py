"""Reloads that leave most sections as they were (issue 19, reload at scale): the loader
takes the running routes of unchanged sections over instead of parsing them again. Against
the real binary: connections open on unchanged routes go on untouched, the changed route
takes effect, sections moved by an edit above them keep working, an error in a changed
section after many unchanged ones names its own line, and a [global] change (which makes
every section be read again) applies. Measured times are printed, never asserted."""
import time

from harness import config, env, roundtrip, wait_until
from test_reload_triggers import ReloadCase, measure

ROUTES = 40


class ReloadUnchangedSectionsTest(ReloadCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.echo2 = self.backend("echo")
        self.routes = [self.route(f"r{i}", [self.echo]) for i in range(ROUTES)]

    def lands_on(self, backend, port) -> bool:
        before = backend.accepts
        self.echo_once(port, b"which backend?\n")
        return backend.accepts > before

    def with_backend(self, index, backend, routes=None):
        routes = list(routes or self.routes)
        r = routes[index]
        routes[index] = config.Route(r.name, [backend.address], port=r.port)
        return routes

    def test_changed_route_applies_and_connections_on_unchanged_ones_go_on(self):
        self.launch(self.routes)
        held = [self.client(self.routes[i].port) for i in (0, 17, ROUTES - 1)]
        for i, s in enumerate(held):
            roundtrip(s, b"before %d\n" % i, env.t(5))
        changed = 23
        mark = self.p.mark()
        t0 = time.monotonic()
        self.write_by_rename(self.render(self.with_backend(changed, self.echo2)))
        rec = self.wait_reloaded(mark, routes=ROUTES)
        took = self.wait_effective(lambda: self.lands_on(self.echo2, self.routes[changed].port),
                                   "the changed route on its new backend", t0)
        self.assert_no_reload_error(mark)
        for i, s in enumerate(held):
            roundtrip(s, b"after %d " % i + b"z" * 5000 + b"\n", env.t(5))
        for i, r in enumerate(self.routes):
            if i != changed:
                self.assertTrue(self.lands_on(self.echo, r.port), f"{r.name} on its backend")
        self.assertFalse(self.echo2.saw(b"before"), "a held connection moved")
        measure(self, f"write->changed route serving {took * 1000:.1f} ms; "
                      f"reloaded duration_ms={rec.fields.get('duration_ms')}")

    def test_sections_moved_by_an_edit_above_them_keep_serving(self):
        self.launch(self.routes)
        held = self.client(self.routes[30].port)
        roundtrip(held, b"before\n", env.t(5))
        # A route with two more lines early in the file moves every section after it; an
        # added route in the middle moves the rest once more.
        routes = list(self.routes)
        routes[2] = config.Route(routes[2].name, [self.echo.address],
                                 {"retries": 1, "idle_timeout_ms": 60000}, port=routes[2].port)
        added = self.route("added", [self.echo2])
        routes.insert(20, added)
        mark = self.p.mark()
        self.write_by_rename(self.render(routes))
        self.wait_reloaded(mark, routes=ROUTES + 1)
        self.assert_no_reload_error(mark)
        wait_until(lambda: self.lands_on(self.echo2, added.port), env.t(5),
                   "the added route serving")
        roundtrip(held, b"after the move\n", env.t(5))
        for r in self.routes:
            self.assertTrue(self.lands_on(self.echo, r.port), f"{r.name} on its backend")

        # An error in a section after the moved ones names the line it is written on.
        broken = self.render(routes).replace(
            f"backend = {self.echo.address}\n\n[route:r35]",
            f"backend = {self.echo.address} weight=999\n\n[route:r35]")
        lines = broken.splitlines()
        line = next(n for n, text in enumerate(lines, 1) if text.endswith("weight=999"))
        owner = next(text for text in reversed(lines[:line]) if text.startswith("[route:"))
        mark = self.p.mark()
        self.write_by_rename(broken)
        failed = self.wait_reload_failed(mark)
        self.assertIn(f"proxy.conf:{line}: {owner} backend: weight 999 out of range",
                      failed.raw)
        roundtrip(held, b"after the refused reload\n", env.t(5))
        self.echo_once(added.port, b"still served\n")

    def test_a_global_change_reads_every_section_and_applies(self):
        self.launch(self.routes)
        held = self.client(self.routes[5].port)
        roundtrip(held, b"before\n", env.t(5))
        generation = self.generation()
        # access_log off: every section is read again ([global] differs); the routes run
        # the same, one of them on another backend.
        mark = self.p.mark()
        self.write_by_rename(self.render(self.with_backend(9, self.echo2), access_log="off"))
        self.wait_reloaded(mark, routes=ROUTES)
        self.assert_no_reload_error(mark)
        wait_until(lambda: self.lands_on(self.echo2, self.routes[9].port), env.t(5),
                   "route r9 on its new backend")
        self.assertGreater(self.generation(), generation)
        roundtrip(held, b"after\n", env.t(5))
        for i, r in enumerate(self.routes):
            if i != 9:
                self.assertTrue(self.lands_on(self.echo, r.port), f"{r.name} on its backend")
