# The load generators (iperf3, curl, wrk) and their output parsers. Each measure_*
# returns a dict of figures, or raises MeasureError. Single-threaded.
import json
import re

from . import procs


class MeasureError(Exception):
    pass


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise MeasureError(f"cannot parse latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out):
    """Requests/s, p50 and p99 latency (ms), request count and socket errors."""
    res = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise MeasureError("wrk printed no Requests/sec:\n" + out[-400:])
    res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.0+)?%\s+(\S+)", out, re.M)
        if m:
            res[key] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    res["errors"] = errors
    return res


def parse_iperf(out):
    try:
        data = json.loads(out)
    except ValueError as e:
        raise MeasureError(f"iperf3 printed no JSON: {out[-300:]!r}") from e
    if "error" in data:
        raise MeasureError("iperf3: " + data["error"])
    recv = data["end"]["sum_received"]
    return {"gbps": recv["bits_per_second"] / 1e9, "bytes": int(recv["bytes"])}


def iperf(target, cpu, seconds, reverse):
    cmd = ["iperf3", "-c", "127.0.0.1", "-p", str(target.iperf_port), "-t", str(seconds), "-J",
           "--connect-timeout", "3000"]
    if reverse:
        cmd.append("-R")
    rc, out, err, _ = procs.run(cmd, cpu, timeout=seconds + 20)
    res = parse_iperf(out)  # iperf3 -J reports errors in its JSON, with rc 1
    if rc != 0:
        raise MeasureError(f"iperf3 exit {rc}: {err[-300:]}")
    return res


def download(target, cpu, size):
    url = f"http://127.0.0.1:{target.http_port}/large.bin"
    cmd = ["curl", "-sS", "--max-time", "60", "-o", "/dev/null", "-w",
           "%{http_code} %{size_download} %{time_total}", url]
    rc, out, err, _ = procs.run(cmd, cpu, timeout=70)
    if rc != 0:
        raise MeasureError(f"curl exit {rc}: {err.strip()[-300:]}")
    code, got, secs = out.split()
    if code != "200" or int(got) != size:
        raise MeasureError(f"download: HTTP {code}, {got} of {size} bytes")
    return {"mbps": size / float(secs) / 1e6, "bytes": size, "seconds": float(secs)}


def wrk(target, cpu, seconds, conns, close):
    url = f"http://127.0.0.1:{target.http_port}/small"
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(url)
    rc, out, err, _ = procs.run(cmd, cpu, timeout=seconds + 30)
    if rc != 0:
        raise MeasureError(f"wrk exit {rc}: {err.strip()[-300:]}")
    res = parse_wrk(out)
    if res["requests"] == 0:
        raise MeasureError("wrk completed no request")
    if res["errors"] > max(10, res["requests"] // 1000):
        raise MeasureError(f"wrk: {res['errors']} errors in {res['requests']} requests")
    return res
