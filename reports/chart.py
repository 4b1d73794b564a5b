"""The twelve-month visit-rate chart as SVG markup, rendered on the server: no script, readable on a phone.

The drawing is 340 units wide and scales to its box (`viewBox`, width 100%): on a 390-px phone the box is about
350 px, so 13-unit text is drawn at 12 px or more. Month labels alternate between two rows so that "10月 11月 12月"
never run into each other. Each bar carries its figure in a `<title>` (a tooltip, and read out by screen readers);
the page adds a table with the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 340, 210
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 6, 10, 50  # margins: the percent axis on the left, two label rows below
_FONT = 13
_TICKS = (0, 25, 50, 75, 100)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # under the bar: "3月"
    rate: float  # 0.0 … 1.0
    detail: str  # its tooltip: "2026-03：85.0%（已探访 17 / 应探访 20）"
    current: bool = False  # the month in view, drawn darker


def rate_chart(bars: list[Bar], *, title: str, description: str, chart_id: str = "rate-chart") -> str:
    """An accessible SVG bar chart of rates; all text is escaped here."""
    plot_width = WIDTH - _LEFT - _RIGHT
    plot_height = HEIGHT - _TOP - _BOTTOM
    slot = plot_width / max(len(bars), 1)
    parts = [
        f'<svg id="{chart_id}" class="rate-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-size="{_FONT}" '
        f'font-family="inherit" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for tick in _TICKS:
        y = _TOP + plot_height * (1 - tick / 100)
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c9d2dc" stroke-width="1"/>'
        )
        parts.append(f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#4a5868">{tick}%</text>')
    for index, bar in enumerate(bars):
        rate = min(max(bar.rate, 0.0), 1.0)
        height = plot_height * rate
        x = _LEFT + slot * index + slot * 0.15
        colour = "#0d3b5c" if bar.current else "#3d86b8"
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{_TOP + plot_height - height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="{colour}"><title>{escape(bar.detail)}</title></rect>'
        )
        label_y = HEIGHT - _BOTTOM + 16 + (19 if index % 2 else 0)
        weight = ' font-weight="bold"' if bar.current else ""
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{label_y}" text-anchor="middle" fill="#1d2733"{weight}>'
            f"{escape(bar.label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
