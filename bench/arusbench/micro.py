# The micro-benchmarks' results (`make bench-micro`: Google Benchmark's JSON output in
# build/bench/micro.json): ns per operation of every structure whose cost could grow with
# the number of connections, at 1k, 10k, 100k and 1M entries, and the ratio 1M / 1k.
# Pure functions but load().
import json
import re

O1_MAX_RATIO = 1.5  # the bound for "O(1) per operation" from 1k to 1M entries


def load(path):
    with open(path) as f:
        return json.load(f)


def table(micro):
    """[(benchmark, {entries: ns per operation})] in the order the binary ran them.
    A benchmark's name is FAMILY/ENTRIES; its items (operations) are counted by the code."""
    rows = {}
    for b in micro.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or "items_per_second" not in b:
            continue
        # FAMILY/ENTRIES, then Google Benchmark's own suffixes (/iterations:3 ...).
        m = re.fullmatch(r"(.*?)/(\d+)(/.*)?", b["name"])
        if m:
            rows.setdefault(m.group(1), {})[int(m.group(2))] = 1e9 / b["items_per_second"]
    return list(rows.items())


def ratio(per_size):
    sizes = sorted(per_size)
    if len(sizes) < 2 or per_size[sizes[0]] <= 0:
        return None
    return per_size[sizes[-1]] / per_size[sizes[0]]


def extra_misses(per_size, reference):
    """Cache misses per operation that the largest size adds over the smallest, estimated
    as the growth of this row over the growth of the reference row (one dependent miss
    per step): what memory latency, not work, adds. None without a reference."""
    if not reference:
        return None
    sizes = sorted(set(per_size) & set(reference))
    if len(sizes) < 2:
        return None
    lo, hi = sizes[0], sizes[-1]
    grown = reference[hi] - reference[lo]
    if grown <= 0:
        return None
    return max(0.0, per_size[hi] - per_size[lo]) / grown


def render(micro):
    rows = table(micro)
    if not rows:
        return []
    sizes = sorted({n for _, per in rows for n in per})
    ctx = micro.get("context", {})
    lines = ["", "## Micro-benchmarks: cost per operation against the number of entries", "",
             "`make bench-micro` (Google Benchmark, `bench/micro/`): every structure whose cost "
             "could grow with the number of connections, at "
             + ", ".join(f"{n:,}" for n in sizes) + " entries; nanoseconds of CPU per "
             f"operation. O(1) means the last column within {O1_MAX_RATIO}×. The largest sizes "
             "no longer fit the CPU caches (nor their pages the TLB): part of their cost is "
             "memory latency, which any structure pays once its entries are cold; the "
             "`reference` row is one cache miss after another, nothing else "
             f"({ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz). "
             "Misses added: the row's growth from the smallest to the largest size ÷ the "
             "reference's, i.e. how many cache misses per operation the size adds (a keyed "
             "lookup in a table larger than the caches needs at least one).", "",
             "| operation | " + " | ".join(f"{n:,}" for n in sizes)
             + f" | {sizes[-1]:,} ÷ {sizes[0]:,} | O(1) | misses added |",
             "|" + "---|" * (4 + len(sizes))]
    reference = next((per for family, per in rows if family.startswith("reference")), None)
    for family, per in rows:
        r = ratio(per)
        cells = [f"{per[n]:.1f}" if n in per else "–" for n in sizes]
        if family.startswith("reference"):
            met = "(memory alone)"
            misses = "1 (by definition)"
        else:
            met = "–" if r is None else ("yes" if r <= O1_MAX_RATIO else "**no**")
            m = extra_misses(per, reference)
            misses = "–" if m is None else f"{m:.2f}"
        lines.append(f"| {family} | " + " | ".join(cells)
                     + f" | {'–' if r is None else f'{r:.2f}×'} | {met} | {misses} |")
    return lines
