# The at-a-glance chart: for each headline figure, one bar per target, its length the
# ratio to HAProxy (the better variant) oriented so that longer is always better.
# Hand-written SVG, no dependencies. Pure function.
from xml.sax.saxutils import escape

from .figures import FIGURES, haproxy_best

COLORS = {
    "direct": "#9e9e9e",
    "arus": "#d84315",
    "arus-filter": "#ff8a65",
    "arus-filter-copy": "#ffccbc",
    "haproxy": "#1565c0",
    "haproxy-splice": "#64b5f6",
    "nginx": "#2e7d32",
}
MAX_RATIO = 3.0


def render(figs, labels, order, title):
    best = haproxy_best(figs)
    shown = [f for f in FIGURES if f[5] and f[0] in best]
    bar_h, gap, left, plot_w = 13, 16, 330, 420
    width = left + plot_w + 70
    rows = []
    for key, label, unit, better, _, _ in shown:
        bars = []
        for t in order:
            v = figs.get(t, {}).get(key)
            if v is None:
                continue
            if better == "high":
                r = v / best[key] if best[key] > 0 else None
            else:
                r = best[key] / v if v > 0 else (MAX_RATIO if best[key] > 0 else None)
            if r is not None:
                bars.append((t, r))
        rows.append((label + (" (inverted: lower is better)" if better == "low" else ""), bars))
    legend_h = 26
    height = 60 + legend_h + sum(len(b) * bar_h + gap + 16 for _, b in rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
           '<text x="10" y="38" fill="#555">Ratio to HAProxy (better of its two variants) = 1.0; '
           'longer is better on every row.</text>']
    x = 10
    for t in order:
        out.append(f'<rect x="{x}" y="{48}" width="12" height="12" fill="{COLORS.get(t, "#000")}"/>')
        out.append(f'<text x="{x + 16}" y="{58}">{escape(labels[t])}</text>')
        x += 28 + 7 * len(labels[t])
    y = 60 + legend_h
    scale = plot_w / MAX_RATIO
    top = y
    body = []
    for label, bars in rows:
        body.append(f'<text x="10" y="{y + 11}" font-weight="bold">{escape(label)}</text>')
        y += 16
        for t, r in bars:
            w = min(r, MAX_RATIO) * scale
            body.append(f'<text x="{left - 6}" y="{y + 10}" text-anchor="end" fill="#333">'
                       f'{escape(labels[t])}</text>')
            body.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                       f'fill="{COLORS.get(t, "#000")}"/>')
            clip = "+" if r > MAX_RATIO else ""
            body.append(f'<text x="{left + w + 4:.1f}" y="{y + 10}">{r:.2f}×{clip}</text>')
            y += bar_h
        y += gap
    # Grid first, bars over it, the HAProxy line on top.
    for tick in (0.5, 1.5, 2.0, 2.5, 3.0):
        tx = left + tick * scale
        out.append(f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{y}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{tx:.1f}" y="{y + 14}" text-anchor="middle" fill="#777">{tick}</text>')
    out += body
    one = left + scale
    out.append(f'<line x1="{one:.1f}" y1="{top}" x2="{one:.1f}" y2="{y}" stroke="#000" '
               'stroke-dasharray="4,3"/>')
    out.append(f'<text x="{one:.1f}" y="{y + 14}" text-anchor="middle">1.0 = HAProxy</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
