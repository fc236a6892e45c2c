"""Thread priorities: the control thread (reloads, stats, admin) runs at nice 19, so that
building a reload's generation waits for the workers instead of delaying their clients on
a shared core; the workers and the health checker keep the priority the proxy was started
with, also when a reload turns health checks on. Read from /proc/PID/task/*/stat."""
import os
import unittest

from harness import ProxyTestCase, env, roundtrip, wait_until


def threads(pid):
    """{tid: (name, nice)} of every thread of `pid`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = (name, int(fields[16]))  # field 19 of stat(5), from "state" on
    return out


class ThreadPriorityTest(ProxyTestCase):
    def test_control_thread_yields_to_workers_and_health_checker(self):
        started_nice = os.getpriority(os.PRIO_PROCESS, 0)  # inherited by the proxy
        if started_nice >= 19:
            self.skipTest("the tests already run at the lowest priority")
        backend = self.backend("echo")
        route = self.route("r", [backend])
        proxy = self.start_proxy([route], {"workers": 2})
        roundtrip(self.client(route.port), b"ping", env.t(5))
        wait_until(lambda: threads(proxy.pid)[proxy.pid][1] == 19, env.t(5),
                   "the control thread at nice 19")
        others = {tid: t for tid, t in threads(proxy.pid).items() if tid != proxy.pid}
        self.assertEqual([t for t in others.values() if t[0] == "arus-health"],
                         [("arus-health", started_nice)], others)
        workers = [t for t in others.values() if t[0] != "arus-health" and t[1] == started_nice]
        self.assertGreaterEqual(len(workers), 2, f"both workers at nice {started_nice}: {others}")

        # A reload that turns health checks on: they run on the thread made at start-up.
        route.options.update(health_check="connect", health_check_interval_ms=200,
                             health_check_timeout_ms=150)
        self.write_config([route], {"workers": 2})
        proxy.wait_record("reloaded", env.t(10))
        health = [t for t in threads(proxy.pid).values() if t[0] == "arus-health"]
        self.assertEqual(health, [("arus-health", started_nice)])
        roundtrip(self.client(route.port), b"pong", env.t(5))


if __name__ == "__main__":
    unittest.main()
