"""Small server-side SVG charts for the dashboard: no JavaScript, nothing fetched, readable in any browser."""

from __future__ import annotations

from html import escape

PALETTE = {"teacher": "#4e79a7", "local": "#59a14f", "fallback": "#f28e2b", "safe_default": "#e15759"}
DEFAULT_COLOR = "#76b7b2"


def bar_chart(bars: list[tuple[str, float]], *, title: str, width: int = 560, unit: str = "") -> str:
    """Horizontal bars with their values written at the end."""
    label_w, row_h, top = 230, 26, 28
    height = top + row_h * max(len(bars), 1) + 8
    peak = max((v for _, v in bars), default=0) or 1
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="16" font-weight="bold" font-size="14">{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = top + i * row_h
        w = (width - label_w - 70) * (value / peak)
        shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        parts += [f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>',
                  f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
                  f'fill="{PALETTE.get(label, DEFAULT_COLOR)}"><title>{escape(label)}: {shown}</title></rect>',
                  f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">{shown}{escape(unit)}</text>']
    parts.append("</svg>")
    return "".join(parts)


def progress_bar(value: int, target: int, *, title: str, width: int = 560) -> str:
    share = min(1.0, value / target) if target else 1.0
    inner = (width - 2) * share
    return (f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="52" '
            f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="16" font-weight="bold" font-size="14">'
            f'{escape(title)}</text><rect x="1" y="24" width="{width - 2}" height="22" fill="#eee" stroke="#999"/>'
            f'<rect class="bar" x="1" y="24" width="{inner:.1f}" height="22" fill="#59a14f"/>'
            f'<text x="{width / 2}" y="40" text-anchor="middle" font-size="12">{value:,} / {target:,} '
            f'({share:.0%})</text></svg>')


def stacked_columns(series: dict[str, dict[str, int]], *, title: str, width: int = 560, height: int = 220) -> str:
    """One column per day, stacked by who served, with a legend."""
    keys = sorted({k for day in series.values() for k in day}, key=lambda k: list(PALETTE).index(k)
                  if k in PALETTE else 99)
    top, bottom, left = 28, 36, 40
    plot_h = height - top - bottom
    peak = max((sum(day.values()) for day in series.values()), default=0) or 1
    col_w = (width - left) / max(len(series), 1)
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="16" font-weight="bold" font-size="14">'
             f'{escape(title)}</text>',
             f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>']
    for i, (day, counts) in enumerate(series.items()):
        x, y = left + i * col_w, top + plot_h
        for key in keys:
            h = plot_h * counts.get(key, 0) / peak
            y -= h
            parts.append(f'<rect class="bar" x="{x + 2:.1f}" y="{y:.1f}" width="{max(col_w - 4, 1):.1f}" '
                         f'height="{h:.1f}" fill="{PALETTE.get(key, DEFAULT_COLOR)}"><title>{escape(day)} '
                         f'{escape(key)}: {counts.get(key, 0)}</title></rect>')
        if len(series) <= 14 or i % max(len(series) // 7, 1) == 0:
            parts.append(f'<text x="{x + col_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                         f'font-size="10">{escape(day[5:])}</text>')
    for j, key in enumerate(keys):
        x, color = left + j * 110, PALETTE.get(key, DEFAULT_COLOR)
        parts.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{x + 14}" y="{height - 5}" font-size="11">{escape(key)}</text>')
    parts.append("</svg>")
    return "".join(parts)
