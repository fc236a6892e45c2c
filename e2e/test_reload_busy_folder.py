"""Other files in the configuration's folder do not postpone a reload (issue 11 item 5),
against the real binary: while a writer appends to a log file and rewrites another file
next to proxy.conf every 20 ms, and a client connects every 50 ms, an edit of proxy.conf
is applied while the writer is still at it."""
import os
import unittest

from harness import RepeatThread, env, wait_until
from test_reload_triggers import ReloadCase


class BusyFolderTest(ReloadCase):
    def test_reload_lands_while_another_file_in_the_folder_keeps_changing(self):
        echo = self.backend("echo")
        web = self.route("web", [echo])
        self.launch([web])

        # As `make run > proxy.log 2>&1` and a program keeping a state file do: each
        # write is an inotify event in the configuration's folder.
        log = open(os.path.join(self.workdir, "proxy.log"), "a", buffering=1)
        self.addCleanup(log.close)

        def write(n):
            log.write(f"line {n}\n")
            with open(os.path.join(self.workdir, "state"), "w") as state:
                state.write(str(n))

        def connect(_):
            try:
                self.echo_once(web.port, b"ping\n", env.t(2))
            except OSError:
                pass  # only the traffic matters here; relaying is tested elsewhere

        # The writer outlives the reload's deadline: a reload seen at all is seen while
        # it still writes, and its absence fails the wait, not the liveness check.
        reload_deadline = env.t(10)
        writer = RepeatThread("folder-writer", write, 0.02, reload_deadline + env.t(20)).start()
        self.addCleanup(writer.stop, env.t(10))
        clients = RepeatThread("clients", connect, 0.05, reload_deadline + env.t(20)).start()
        self.addCleanup(clients.stop, env.t(10))
        wait_until(lambda: writer.calls >= 5, env.t(5), "the writer to be under way")

        extra = self.route("added", [echo])
        mark = self.p.mark()
        self.write_in_place(self.render([web, extra]))
        rec = self.wait_reloaded(mark, reload_deadline)
        self.assertTrue(writer.running(), "the writer ended before the reload was seen")
        self.assertEqual(int(rec.fields.get("routes")), 2, rec.raw)
        self.echo_once(extra.port, b"added route serves\n")


if __name__ == "__main__":
    unittest.main()
