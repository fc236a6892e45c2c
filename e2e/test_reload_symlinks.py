"""A configuration reached through symlinks reloads (issue 12 item 4), against the real
binary: a file that is a symlink into another folder, edited through the link or in its
own folder, and a config under a folder symlink that is swapped to another release
(`current -> releases/N`), edited again after the swap. The ConfigMap case lives in
test_reload_triggers."""
import os
import unittest

from test_reload_triggers import ReloadCase


class SymlinkReloadTest(ReloadCase):
    def setUp(self):
        super().setUp()
        self.echo = self.backend("echo")
        self.routes = [self.route("web", [self.echo])]

    def add_route_with(self, write, name):
        """Add route `name` with `write(text)`: the reload must land and the route serve."""
        extra = self.route(name, [self.echo])
        self.routes.append(extra)
        mark = self.p.mark()
        write(self.render(self.routes))
        rec = self.wait_reloaded(mark)
        self.assertEqual(int(rec.fields.get("routes")), len(self.routes), rec.raw)
        self.echo_once(extra.port, f"{name} serves\n".encode())
        self.assert_no_reload_error(mark)

    def test_config_linked_into_another_folder_reloads(self):
        app, srv = os.path.join(self.workdir, "app"), os.path.join(self.workdir, "srv")
        os.makedirs(app)
        os.makedirs(srv)
        real = os.path.join(srv, "proxy.conf")
        link = os.path.join(app, "proxy.conf")
        self.write_in_place(self.render(self.routes), path=real)
        os.symlink(os.path.join("..", "srv", "proxy.conf"), link)
        self.launch(self.routes, path=link)
        self.add_route_with(lambda text: self.write_in_place(text, path=link), "through_link")
        self.add_route_with(lambda text: self.write_by_rename(text, path=real), "renamed_in_srv")

    def test_swapped_parent_folder_link_reloads(self):
        releases = os.path.join(self.workdir, "releases")
        current = os.path.join(self.workdir, "current")
        for n in (1, 2):
            os.makedirs(os.path.join(releases, str(n)))
        self.write_in_place(self.render(self.routes), path=os.path.join(releases, "1", "proxy.conf"))
        os.symlink(os.path.join("releases", "1"), current)
        self.launch(self.routes, path=os.path.join(current, "proxy.conf"))

        def deploy(text):
            """Release 2 gets its file, then `current` is swapped to it atomically (a new
            link renamed over the old one, as `ln -s ... tmp && mv -T tmp current`)."""
            self.write_in_place(text, path=os.path.join(releases, "2", "proxy.conf"))
            tmp = current + ".tmp"
            os.symlink(os.path.join("releases", "2"), tmp)
            os.rename(tmp, current)

        self.add_route_with(deploy, "release2")
        # Followed again after the swap: an edit of the live release applies too.
        self.add_route_with(
            lambda text: self.write_in_place(text, path=os.path.join(current, "proxy.conf")),
            "edited_after_swap")


if __name__ == "__main__":
    unittest.main()
