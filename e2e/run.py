#!/usr/bin/env python3
"""Runs the arus-proxy end-to-end suite: every e2e/test_*.py against $ARUS_BIN.

  ARUS_BIN=/abs/build/arus-proxy python3 e2e/run.py [FILTER ...] [-v] [--list]

A FILTER keeps the tests whose id (module.Class.method) contains it. Exit status 0 when
every selected test passed, 1 otherwise. A per-test watchdog kills a hung test run."""
import argparse
import faulthandler
import os
import resource
import sys
import threading
import time
import unittest

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, E2E_DIR)

from harness import case, env, proxy  # noqa: E402

PER_TEST_LIMIT_S = 120.0


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


class Watchdog:
    """Kills the run when one test outlives its limit: dumps every thread's stack, SIGKILLs
    the proxies this run started, exits 3. Armed and disarmed from the result hooks."""

    def __init__(self, limit_s):
        self.limit_s = limit_s
        self.timer = None

    def arm(self, test_id):
        self.disarm()
        self.timer = threading.Timer(self.limit_s, self._fire, args=(test_id,))
        self.timer.daemon = True
        self.timer.start()

    def disarm(self):
        if self.timer:
            self.timer.cancel()
            self.timer = None

    def _fire(self, test_id):
        sys.stderr.write(f"\nWATCHDOG: {test_id} exceeded {self.limit_s:.0f}s; stacks:\n")
        faulthandler.dump_traceback(all_threads=True)
        proxy.kill_all()
        sys.stderr.flush()
        os._exit(3)


class TimedResult(unittest.TextTestResult):
    watchdog = None

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.durations = []

    def startTest(self, test):
        self._t0 = time.monotonic()
        if self.watchdog:
            self.watchdog.arm(test.id())
        super().startTest(test)

    def stopTest(self, test):
        if self.watchdog:
            self.watchdog.disarm()
        self.durations.append((time.monotonic() - self._t0, test.id()))
        super().stopTest(test)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("filters", nargs="*", help="substrings of test ids to run")
    ap.add_argument("-v", "--verbose", action="store_true", help="unittest verbosity 2 (default)")
    ap.add_argument("-q", "--quiet", action="store_true", help="one character per test")
    ap.add_argument("--list", action="store_true", help="list the selected tests and exit")
    opts = ap.parse_args()

    loader = unittest.TestLoader()
    tests = list(flatten(loader.discover(E2E_DIR, pattern="test_*.py", top_level_dir=E2E_DIR)))
    broken = [t for t in tests if t.__class__.__name__ in ("_FailedTest", "ModuleImportFailure")]
    if opts.filters:
        tests = [t for t in tests if any(f in t.id() for f in opts.filters)] + \
            [t for t in broken if t not in tests]
    if opts.list:
        for t in tests:
            print(t.id())
        return 0
    if not tests:
        print(f"no test matches {opts.filters}", file=sys.stderr)
        return 1
    if not (os.path.isfile(env.BIN) and os.access(env.BIN, os.X_OK)):
        print(f"ARUS_BIN={env.BIN} is not an executable file; build it first (make)",
              file=sys.stderr)
        return 1

    raise_nofile()
    print(f"e2e: {env.describe()}", flush=True)
    print(f"e2e: work folder {case.run_dir()}", flush=True)
    TimedResult.watchdog = Watchdog(env.t(PER_TEST_LIMIT_S))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=1 if opts.quiet else 2,
                                     resultclass=TimedResult)
    t0 = time.monotonic()
    result = runner.run(unittest.TestSuite(tests))
    elapsed = time.monotonic() - t0

    print("\nslowest tests:")
    for d, tid in sorted(result.durations, reverse=True)[:8]:
        print(f"  {d:7.2f}s  {tid}")
    failed = list(dict.fromkeys(
        str(t) if "(" in str(t) and t.id() not in str(t) else t.id()
        for t, _ in result.failures + result.errors + result.unexpectedSuccesses))
    print(f"\ne2e summary: {result.testsRun} run, {len(failed)} failed, "
          f"{len(result.skipped)} skipped, {elapsed:.1f}s ({env.describe()})")
    for tid in failed:
        print(f"  FAILED {tid}")
    for t, why in result.skipped:
        print(f"  skipped {t.id()}: {why}")
    if result.wasSuccessful() and not failed:
        case.remove_run_dir()
        return 0
    print(f"proxy logs kept in {case.run_dir()}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
