"""A real PostgreSQL with max_connections = 20 behind a route whose backend is capped at
15 with a queue: pgbench with 60 clients completes, and PostgreSQL never answers "too
many clients" (what it does without the cap)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import ProxyTestCase, env, free_port, http
from harness.case import run_dir
from harness.peers import PeerProcess, postgres_tool

PG_MAX_CONNECTIONS = 20
CAP = 15


class PostgresQueueTest(ProxyTestCase):
    def _start_postgres(self):
        # PostgreSQL refuses to run as root: it runs as the postgres user, who must reach
        # the test's folder.
        for folder in (run_dir(), self.workdir):
            os.chmod(folder, 0o711)
        pgdir = os.path.join(self.workdir, "pg")
        os.makedirs(pgdir, exist_ok=True)
        os.chown(pgdir, _uid("postgres"), -1)
        data = os.path.join(pgdir, "data")
        initdb = subprocess.run(
            [postgres_tool("initdb"), "-D", data, "-U", "postgres", "--auth=trust",
             "--no-sync", "-E", "UTF8"],
            user="postgres", cwd=pgdir, capture_output=True, text=True, timeout=env.t(120))
        self.assertEqual(initdb.returncode, 0, initdb.stdout + initdb.stderr)
        # The Unix socket lives in a short folder of its own: the test's folder is too deep
        # for a socket path (107 bytes at most).
        sockets = tempfile.mkdtemp(prefix="arus-pg-")
        self.addCleanup(shutil.rmtree, sockets, True)
        os.chown(sockets, _uid("postgres"), -1)
        port = free_port()
        pg = PeerProcess(
            [postgres_tool("postgres"), "-D", data, "-p", str(port), "-k", sockets,
             "-c", "listen_addresses=127.0.0.1", "-c", f"max_connections={PG_MAX_CONNECTIONS}",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            port, os.path.join(self.workdir, "postgres.log"), user="postgres", cwd=pgdir)
        pg.start(timeout=env.t(60))
        self.addCleanup(pg.stop)
        return pg, port

    def _pgbench(self, port, *args, timeout):
        return subprocess.run(
            [postgres_tool("pgbench"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
             *args, "postgres"],
            user="postgres", cwd="/", capture_output=True, text=True, timeout=timeout)

    def test_pgbench_with_more_clients_than_postgres_allows(self):
        pg, pg_port = self._start_postgres()
        self.stats_port = free_port()
        route = self.route("pg", [f"127.0.0.1:{pg_port} max_connections={CAP}"],
                           queue_timeout_ms=int(env.t(120) * 1000), idle_timeout_ms=0)
        proxy = self.start_proxy([route], {"stats_listen": f"127.0.0.1:{self.stats_port}"})

        init = self._pgbench(route.port, "-i", "-q", "-s", "1", timeout=env.t(180))
        self.assertEqual(init.returncode, 0, init.stdout + init.stderr)

        clients, transactions = 60, env.pick(20, 5)
        # -C: a connection per transaction, so the clients take turns on the 15 slots.
        # (Without it pgbench opens every connection before a barrier that all threads
        # must reach: the queued ones could never be served, with or without a proxy.)
        # One thread per client: pgbench's connect blocks its thread, which must not hold
        # another client's slot meanwhile.
        run = self._pgbench(route.port, "-C", "-c", str(clients), "-j", str(clients),
                            "-t", str(transactions), timeout=env.t(300))
        output = run.stdout + run.stderr
        print("\n  " + "\n  ".join(line for line in run.stdout.splitlines()
                                   if "processed" in line or "tps" in line or "latency" in line))
        self.assertNotIn("too many clients", output)
        self.assertEqual(run.returncode, 0, output)
        done = clients * transactions
        self.assertIn(f"number of transactions actually processed: {done}/{done}", output)
        with open(pg.log_path, errors="replace") as f:
            self.assertNotIn("too many clients", f.read())
        samples = http.get_metrics(self.stats_port, env.t(5))
        self.assertEqual(http.metric(samples, "arus_queue_timeouts_total", route="pg"), 0)
        self.assertEqual(http.metric(samples, "arus_queue_length", route="pg"), 0)


def _uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


if __name__ == "__main__":
    unittest.main()
