# Turns raw samples into figures (medians over rounds), HAProxy ratios and the issue's
# targets. Pure functions over plain dicts; no I/O.
import statistics

# key, label, unit, better ("high"/"low"), decimals, shown in chart
FIGURES = [
    ("bulk_up_gbps", "Bulk, iperf3 1 stream, client→server", "Gbit/s", "high", 2, True),
    ("bulk_down_gbps", "Bulk, iperf3 1 stream, server→client (-R)", "Gbit/s", "high", 2, True),
    ("bulk_gb_per_cpu", "Bulk: GB relayed per proxy CPU-second", "GB/CPU-s", "high", 2, True),
    ("bulk_cpu_cores", "Bulk: proxy CPU in use", "cores", "low", 2, False),
    ("dl_mbps", "Download of a 256 MiB file (curl)", "MB/s", "high", 0, True),
    ("dl_gb_per_cpu", "Download: GB relayed per proxy CPU-second", "GB/CPU-s", "high", 2, True),
    ("ka_rps", "Keep-alive, wrk -c64: requests/s", "req/s", "high", 0, True),
    ("ka_p50_ms", "Keep-alive: p50 latency", "ms", "low", 3, False),
    ("ka_p99_ms", "Keep-alive: p99 latency", "ms", "low", 3, True),
    ("ka_cpu_cores", "Keep-alive: proxy CPU in use", "cores", "low", 2, False),
    ("ka_req_per_cpu_ms", "Keep-alive: requests per proxy CPU-ms", "req/CPU-ms", "high", 1, True),
    ("churn_cps", "Churn, Connection: close: new connections/s", "conn/s", "high", 0, True),
    ("churn_cpu_cores", "Churn: proxy CPU in use", "cores", "low", 2, False),
    ("churn_per_cpu_ms", "Churn: connections per proxy CPU-ms", "conn/CPU-ms", "high", 2, False),
    ("idle_rss_b", "Idle connection: proxy RSS growth per connection", "bytes", "low", 0, True),
    ("idle_slab_b", "Idle connection: kernel slab per connection, whole machine", "bytes",
     "low", 0, False),
    ("idle_kernel_b", "Idle connection: kernel slab added by the proxy (vs direct)", "bytes",
     "low", 0, False),
    ("idle_sockets", "Idle connection: proxy sockets per connection", "fds", "low", 2, False),
    ("idle_pipes", "Idle connection: proxy pipes per connection", "pipes", "low", 2, False),
]
FIGURE = {f[0]: f for f in FIGURES}


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _per(samples, num, den):
    """Median over rounds of num/den (work per CPU-second, CPU per second)."""
    return _median([s[num] / s[den] for s in samples if s[den] > 0])


def derive(samples, is_proxy):
    """Figures of one target from its samples: {test: [sample, ...]}."""
    out = {}
    up, down = samples.get("iperf_up", []), samples.get("iperf_down", [])
    out["bulk_up_gbps"] = _median([s["gbps"] for s in up])
    out["bulk_down_gbps"] = _median([s["gbps"] for s in down])
    dl = samples.get("download", [])
    out["dl_mbps"] = _median([s["mbps"] for s in dl])
    ka = samples.get("keepalive", [])
    out["ka_rps"] = _median([s["rps"] for s in ka])
    out["ka_p50_ms"] = _median([s.get("p50_ms") for s in ka])
    out["ka_p99_ms"] = _median([s.get("p99_ms") for s in ka])
    churn = samples.get("churn", [])
    out["churn_cps"] = _median([s["rps"] for s in churn])
    if is_proxy:
        bulk = up + down  # both directions' rounds together: the median of 2 x rounds
        if bulk:
            gb = _per(bulk, "bytes", "cpu_s")
            out["bulk_gb_per_cpu"] = gb / 1e9 if gb else None
            out["bulk_cpu_cores"] = _per(bulk, "cpu_s", "wall_s")
        if dl:
            gb = _per(dl, "bytes", "cpu_s")
            out["dl_gb_per_cpu"] = gb / 1e9 if gb else None
        if ka:
            r = _per(ka, "requests", "cpu_s")
            out["ka_req_per_cpu_ms"] = r / 1000 if r else None
            out["ka_cpu_cores"] = _per(ka, "cpu_s", "wall_s")
        if churn:
            r = _per(churn, "requests", "cpu_s")
            out["churn_per_cpu_ms"] = r / 1000 if r else None
            out["churn_cpu_cores"] = _per(churn, "cpu_s", "wall_s")
    idle = samples.get("idle", [])
    out["idle_rss_b"] = _median([s["rss_per_conn_b"] for s in idle])
    out["idle_slab_b"] = _median([s["slab_per_conn_b"] for s in idle])
    out["idle_sockets"] = _median([s["sockets_per_conn"] for s in idle])
    out["idle_pipes"] = _median([s["pipes_per_conn"] for s in idle])
    return {k: v for k, v in out.items() if v is not None}


def add_kernel_share(figs):
    """The proxy's own kernel memory per idle connection: its slab figure less direct's
    (client and backend sockets exist in both)."""
    base = figs.get("direct", {}).get("idle_slab_b")
    if base is None:
        return
    for name, f in figs.items():
        if name != "direct" and "idle_slab_b" in f:
            f["idle_kernel_b"] = f["idle_slab_b"] - base


def haproxy_best(figs):
    """Per figure, the better of the two HAProxy variants."""
    best = {}
    for key, _, _, better, _, _ in FIGURES:
        vals = [figs[t][key] for t in ("haproxy", "haproxy-splice") if key in figs.get(t, {})]
        if vals:
            best[key] = max(vals) if better == "high" else min(vals)
    return best


def ratio(a, b):
    if a is None or b is None or b <= 0 or a < 0:
        return None
    return a / b


GOALS = [
    # label, numerator (target, figure), denominator (target or "haproxy", figure), op, limit.
    # Issue 6 (first round), then issue 14 (PROXY protocol), then issue 19 (second round).
    ("Bulk splice ≥ 1.0× HAProxy (client→server)", ("arus", "bulk_up_gbps"),
     ("haproxy", "bulk_up_gbps"), ">=", 1.0),
    ("Bulk splice ≥ 1.0× HAProxy (server→client)", ("arus", "bulk_down_gbps"),
     ("haproxy", "bulk_down_gbps"), ">=", 1.0),
    ("Bulk splice ≥ 0.8× direct (client→server)", ("arus", "bulk_up_gbps"),
     ("direct", "bulk_up_gbps"), ">=", 0.8),
    ("Bulk splice ≥ 0.8× direct (server→client)", ("arus", "bulk_down_gbps"),
     ("direct", "bulk_down_gbps"), ">=", 0.8),
    ("Keep-alive requests/s ≥ 1.1× HAProxy", ("arus", "ka_rps"), ("haproxy", "ka_rps"),
     ">=", 1.1),
    ("New connections/s ≥ 1.1× HAProxy", ("arus", "churn_cps"), ("haproxy", "churn_cps"),
     ">=", 1.1),
    ("Memory per idle connection (user space) ≤ 0.5× HAProxy", ("arus", "idle_rss_b"),
     ("haproxy", "idle_rss_b"), "<=", 0.5),
    ("PROXY v2 in and out: keep-alive requests/s ≥ 0.95× plain (2 hops)",
     ("arus-chain-pp", "ka_rps"), ("arus-chain", "ka_rps"), ">=", 0.95),
    ("PROXY v2 in and out: new connections/s ≥ 0.95× plain (2 hops)",
     ("arus-chain-pp", "churn_cps"), ("arus-chain", "churn_cps"), ">=", 0.95),
    ("Issue 19: keep-alive requests per proxy CPU-ms ≥ 1.05× HAProxy",
     ("arus", "ka_req_per_cpu_ms"), ("haproxy", "ka_req_per_cpu_ms"), ">=", 1.05),
    ("Issue 19: keep-alive p99 ≤ HAProxy's", ("arus", "ka_p99_ms"), ("haproxy", "ka_p99_ms"),
     "<=", 1.0),
    ("Issue 19: churn, connections per proxy CPU-ms ≥ 1.2× HAProxy",
     ("arus", "churn_per_cpu_ms"), ("haproxy", "churn_per_cpu_ms"), ">=", 1.2),
    ("Issue 19: GB per proxy CPU-s, iperf ≥ 1.3× HAProxy", ("arus", "bulk_gb_per_cpu"),
     ("haproxy", "bulk_gb_per_cpu"), ">=", 1.3),
    ("Issue 19: GB per proxy CPU-s, download ≥ 1.3× HAProxy", ("arus", "dl_gb_per_cpu"),
     ("haproxy", "dl_gb_per_cpu"), ">=", 1.3),
    # The target is met by an inspecting filter (it forwards, passthrough.c); the copying
    # one (passthrough_copy.c, a filter that rewrites) is shown beside it.
    ("Issue 19: filter (forwarding) ≥ 0.9× splice, download", ("arus-filter", "dl_mbps"),
     ("arus", "dl_mbps"), ">=", 0.9),
    ("Issue 19: filter (forwarding) ≥ 0.9× splice, iperf client→server",
     ("arus-filter", "bulk_up_gbps"), ("arus", "bulk_up_gbps"), ">=", 0.9),
    ("Issue 19: filter (forwarding) ≥ 0.9× splice, iperf server→client",
     ("arus-filter", "bulk_down_gbps"), ("arus", "bulk_down_gbps"), ">=", 0.9),
    ("Issue 19: filter (copying) ≥ 0.9× splice, download", ("arus-filter-copy", "dl_mbps"),
     ("arus", "dl_mbps"), ">=", 0.9),
    ("Issue 19: filter (copying) ≥ 0.9× splice, iperf client→server",
     ("arus-filter-copy", "bulk_up_gbps"), ("arus", "bulk_up_gbps"), ">=", 0.9),
    ("Issue 19: filter (copying) ≥ 0.9× splice, iperf server→client",
     ("arus-filter-copy", "bulk_down_gbps"), ("arus", "bulk_down_gbps"), ">=", 0.9),
]


def per_round(samples, is_proxy):
    """Each round's figures alone: round i is the i-th sample of every test (a re-run
    replaces its round's sample, so the order holds)."""
    rounds = max((len(v) for v in samples.values()), default=0)
    return [derive({test: runs[i:i + 1] for test, runs in samples.items()}, is_proxy)
            for i in range(rounds)]


def rounds_by_target(samples):
    """per_round() of every target: {target: [figures of round 1, ...]}."""
    return {t: per_round(s, t != "direct") for t, s in samples.items()}


def _goal_ratio(figs, best, num_ref, den_ref, op):
    (nt, nk), (dt, dk) = num_ref, den_ref
    num = figs.get(nt, {}).get(nk)
    den = best.get(dk) if dt == "haproxy" else figs.get(dt, {}).get(dk)
    r = ratio(num, den)
    if r is None and op == "<=" and num is not None and den is not None and num <= 0:
        r = 0.0  # no growth at all beats any positive figure
    return r


def goals(figs, rounds=None):
    """The issue's targets on the medians. With `rounds` ({target: per_round(...)}), each
    row also says how the same ratio came out round by round (the targets ran side by
    side in every round, so a round's ratio compares like with like): its range and in
    how many rounds the target was met. A median that meets a target in 2 of 5 rounds is
    noise, not a verdict."""
    best = haproxy_best(figs)
    n_rounds = max((len(r) for r in (rounds or {}).values()), default=0)
    round_figs = [{t: rs[i] for t, rs in rounds.items() if i < len(rs)}
                  for i in range(n_rounds)]
    rows = []
    for label, num_ref, den_ref, op, limit in GOALS:
        def meets(r):
            return r >= limit if op == ">=" else r <= limit
        r = _goal_ratio(figs, best, num_ref, den_ref, op)
        per = [_goal_ratio(f, haproxy_best(f), num_ref, den_ref, op) for f in round_figs]
        per = [x for x in per if x is not None]
        rows.append({"goal": label, "ratio": r, "met": None if r is None else meets(r),
                     "limit": limit, "op": op,
                     "round_min": min(per) if per else None,
                     "round_max": max(per) if per else None,
                     "rounds_met": sum(1 for x in per if meets(x)), "rounds": len(per)})
    return rows
