"""Charts drawn on the server as SVG (no script, no inline style: colours come from classes
in ``static/indicators.css``), so the dashboard needs nothing from outside and stays within
the pages' Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

__all__ = ["stacked_columns", "hbars", "share_bar"]

SERIES = 8  # classes s0..s7


def _num(v: float) -> str:
    return f"{v:,.0f}".replace(",", ".") if v >= 1000 else f"{v:g}"


def stacked_columns(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
                    title: str, width: int = 560, height: int = 220) -> Markup:
    """Columns per label (a day), stacked by series (a station), with a legend."""
    pad_l, pad_b, pad_t = 44, 40, 14
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))]
    top = -(-max(totals, default=0) // 4) * 4 or 4  # whole numbers on the four ticks
    n = max(len(labels), 1)
    step = plot_w / n
    bar = max(2.0, min(36.0, step * 0.7))
    full = height + 22 * ((len(series) + 3) // 4)
    out = [f'<svg class="chart" width="{width}" height="{full}" viewBox="0 0 {width} {full}" '
           f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for k in range(5):
        y = pad_t + plot_h - plot_h * k / 4
        out.append(f'<line class="grid" x1="{pad_l}" x2="{width - 10}" y1="{y:.1f}" '
                   f'y2="{y:.1f}"/><text class="tick" x="{pad_l - 6}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{_num(top * k / 4)}</text>')
    every = max(1, len(labels) // 10)
    for i, label in enumerate(labels):
        x = pad_l + step * i + (step - bar) / 2
        y = pad_t + plot_h
        for j, (name, values) in enumerate(series):
            v = values[i]
            if not v:
                continue
            h = plot_h * v / top
            y -= h
            out.append(f'<rect class="s{j % SERIES}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                       f'height="{h:.1f}"><title>{escape(label)} · {escape(name)}: '
                       f'{_num(v)}</title></rect>')
        if i % every == 0:
            out.append(f'<text class="tick" x="{x + bar / 2:.1f}" y="{pad_t + plot_h + 16}" '
                       f'text-anchor="middle">{escape(label)}</text>')
    for j, (name, _values) in enumerate(series):
        lx = pad_l + (j % 4) * (plot_w / 4)
        ly = height + 22 * (j // 4)
        out.append(f'<rect class="s{j % SERIES}" x="{lx:.1f}" y="{ly - 10}" width="12" '
                   f'height="12"/><text class="legend" x="{lx + 17:.1f}" y="{ly}">'
                   f'{escape(name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def hbars(rows: Sequence[tuple[str, float]], *, title: str, width: int = 460,
          unit: str = "") -> Markup:
    """One horizontal bar per row (an agency, a document type), longest first as given."""
    label_w, row_h = 170, 24
    height = max(1, len(rows)) * row_h + 6
    top = max((v for _, v in rows), default=0) or 1
    out = [f'<svg class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, (name, v) in enumerate(rows):
        y = 4 + i * row_h
        w = (width - label_w - 60) * v / top
        short = name if len(name) <= 26 else name[:25] + "…"
        out.append(f'<text class="label" x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
                   f'{escape(short)}<title>{escape(name)}</title></text>'
                   f'<rect class="s0" x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" '
                   f'height="{row_h - 8}"/><text class="value" x="{label_w + w + 6:.1f}" '
                   f'y="{y + 15}">{_num(v)}{escape(unit)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def share_bar(parts: Sequence[tuple[str, str, int]], *, title: str, width: int = 560
              ) -> Markup:
    """One bar split into parts (css class, label, count), each part's share written under
    it, for how documents settled."""
    total = sum(n for _, _, n in parts) or 1
    height = 44 + 20 * len(parts)
    out = [f'<svg class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    x = 0.0
    for i, (cls, label, n) in enumerate(parts):
        w = width * n / total
        if n:
            out.append(f'<rect class="{cls}" x="{x:.1f}" y="4" width="{w:.1f}" height="30">'
                       f'<title>{escape(label)}: {n}</title></rect>')
        ly = 46 + 20 * i
        out.append(f'<rect class="{cls}" x="0" y="{ly}" width="12" height="12"/>'
                   f'<text class="legend" x="17" y="{ly + 10}">{escape(label)}: {n} '
                   f'({100 * n / total:.0f} %)</text>')
        x += w
    out.append("</svg>")
    return Markup("".join(out))
