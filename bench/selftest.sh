#!/usr/bin/env bash
# Self-test of the benchmark (not part of `make test`): the output parsers on known
# samples, then a tiny QUICK run of bench/run.sh whose report, chart and raw data are
# checked, and a check that it left no process or listening port behind.
set -uo pipefail
export PYTHONDONTWRITEBYTECODE=1

here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/arus-bench-selftest.XXXXXX)
trap 'rm -rf "$out"' EXIT
port_base=${SELFTEST_PORT_BASE:-23000}
passed=0
failed=0
check() {  # check NAME COMMAND...
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
  fi
}

parsers() {
  PYTHONPATH=$here python3 - <<'PY'
from arusbench import loads, figures
wrk = """Running 1s test @ http://127.0.0.1:1/small
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.50ms  300.00us   9.00ms   90.00%
  Latency Distribution
     50%  317.00us
     75%    1.20ms
     90%    2.00ms
     99%    1.02s
  12345 requests in 1.00s, 3.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  12345.67
Transfer/sec:      3.00MB
"""
r = loads.parse_wrk(wrk)
assert abs(r["rps"] - 12345.67) < 1e-6, r
assert abs(r["p50_ms"] - 0.317) < 1e-9 and abs(r["p99_ms"] - 1020.0) < 1e-9, r
assert r["requests"] == 12345 and r["errors"] == 3, r
ip = loads.parse_iperf('{"end": {"sum_received": {"bits_per_second": 8e9, "bytes": 1000}}}')
assert ip == {"gbps": 8.0, "bytes": 1000}, ip
try:
    loads.parse_iperf('{"error": "the server is busy running a test"}')
    raise SystemExit("iperf error not raised")
except loads.MeasureError:
    pass
# HAProxy's best is per figure: higher wins for rates, lower for latency.
figs = {"haproxy": {"ka_rps": 100.0, "ka_p99_ms": 2.0}, "haproxy-splice": {"ka_rps": 90.0, "ka_p99_ms": 1.0},
        "arus": {"ka_rps": 120.0, "ka_p99_ms": 1.5}}
best = figures.haproxy_best(figs)
assert best == {"ka_rps": 100.0, "ka_p99_ms": 1.0}, best
goals = {g["goal"]: g for g in figures.goals(figs)}
assert goals["Keep-alive requests/s ≥ 1.1× HAProxy"]["met"] is True
assert goals["Issue 19: keep-alive p99 ≤ HAProxy's"]["met"] is False
# Round by round: round i of a target is the i-th sample of each of its tests.
ka = lambda rps: {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "requests": rps, "cpu_s": 1.0,
                  "wall_s": 1.0}
rounds = figures.rounds_by_target({"arus": {"keepalive": [ka(120.0), ka(80.0)]},
                                   "haproxy": {"keepalive": [ka(100.0), ka(100.0)]}})
assert [r["ka_rps"] for r in rounds["arus"]] == [120.0, 80.0], rounds
g = {g["goal"]: g for g in figures.goals(figs, rounds)}["Keep-alive requests/s ≥ 1.1× HAProxy"]
assert (g["round_min"], g["round_max"], g["rounds_met"], g["rounds"]) == (0.8, 1.2, 1, 2), g
PY
}
check "parsers and ratios" parsers

# A stand-in for `make bench-micro`'s output (Google Benchmark JSON), for the report.
cat >"$out/micro.json" <<'JSON'
{"context": {"num_cpus": 2, "mhz_per_cpu": 2000, "library_build_type": "release"},
 "benchmarks": [
  {"name": "TimerWheel rearm/1000", "run_type": "iteration", "items_per_second": 5.0e7},
  {"name": "TimerWheel rearm/1000000", "run_type": "iteration", "items_per_second": 4.0e7}]}
JSON

start=$(date +%s)
"$here/run.sh" --quick --rounds 1 --duration 1 --idle 200 --large-mib 16 --scale-levels 100,300 \
  --micro "$out/micro.json" \
  --port-base "$port_base" --md "$out/b.md" --svg "$out/b.svg" --json "$out/b.json" \
  >"$out/run.log" 2>&1
rc=$?
echo "     quick run took $(($(date +%s) - start)) s (exit $rc)"
check "run.sh --quick exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || tail -30 "$out/run.log"

report() {
  PYTHONPATH=$here python3 - "$out" <<'PY'
import json, sys, xml.etree.ElementTree as ET
out = sys.argv[1]
res = json.load(open(f"{out}/b.json"))
names = ["direct", "arus", "arus-filter", "arus-filter-copy", "haproxy", "haproxy-splice",
         "nginx"]
chains = ["arus-chain", "arus-chain-pp"]  # keep-alive and churn only
assert res["order"] == names + chains, res["order"]
for t in chains:
    assert res["figures"][t]["ka_rps"] > 0 and res["figures"][t]["churn_cps"] > 0, t
for t in names:
    for test in ("iperf_up", "iperf_down", "download", "keepalive", "churn", "idle"):
        assert res["samples"][t].get(test), (t, test)
    f = res["figures"][t]
    assert f["bulk_up_gbps"] > 0 and f["bulk_down_gbps"] > 0 and f["dl_mbps"] > 0, (t, f)
    assert f["ka_rps"] > 0 and f["churn_cps"] > 0, (t, f)
    if t != "direct":
        assert f["bulk_gb_per_cpu"] > 0 and f["ka_req_per_cpu_ms"] > 0, (t, f)
        assert f["idle_sockets"] >= 1.9, (t, f)  # every idle connection reached the backend
# The scale test: arus and HAProxy at both levels, every connection relayed.
sc = res["scale"]
assert sc["levels"] == [100, 300] and sc["order"] == ["arus", "haproxy"], sc
for t in sc["order"]:
    rounds = sc["samples"][t]
    assert len(rounds) == 1 and [x["level"] for x in rounds[0]] == [100, 300], (t, rounds)
    for x in rounds[0]:
        assert x["sockets_per_conn"] >= 1.9 and x["rps"] > 0 and x["p99_ms"] > 0, (t, x)
        assert x["rss_per_conn_b"] > 0 and x["establish_s"] > 0, (t, x)
# Reload at scale: arus (1 and 2 workers) and HAProxy each applied every reload.
for name in ("arus", "arus-2w", "haproxy"):
    r = res["reload"][name]
    assert r["reloads"] == 20 and len(r["durations_ms"]) == 20, (name, r)
    assert r["rss_before_kib"] > 0 and r["rss_after_kib"] > 0, (name, r)
md = open(f"{out}/b.md").read()
for needle in ("## Conditions", "## Results", "## Targets (issues 6, 14 and 19)", "| met in rounds |",
               "## Foreign load",
               "| Bulk, iperf3 1 stream, client→server |", "arus splice", "HAProxy splice forced",
               "nginx stream", "b.svg", "PROXY v2 in and out",
               "## Connections at scale", "| 300 | User space: proxy RSS growth per connection |",
               "active clients' p99 at 300", "## Micro-benchmarks",
               "| TimerWheel rearm | 20.0 | 25.0 | 1.25× | yes |", "## Reload at scale"):
    assert needle in md, needle
svg = ET.parse(f"{out}/b.svg").getroot()
assert svg.tag.endswith("svg")
assert len([e for e in svg.iter() if e.tag.endswith("rect")]) > 20
PY
}
[[ $rc -eq 0 ]] && check "report, chart and raw data are complete" report

ports_free() {
  python3 - "$port_base" <<'PY'
import socket, sys
base = int(sys.argv[1])
for port in range(base, base + 300):  # every target: base + 100 + 10 * its index
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} still accepts")
PY
}
check "no listener left behind" ports_free

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
