"""Line charts as inline SVG text: no plotting library, nothing fetched.

Just enough for the load-test report: several named lines over a shared x
axis, a linear or logarithmic y axis with round ticks, gaps where a value is
missing, and labelled vertical markers (saturation, step boundaries).

Lines that would lie on top of each other (a target met exactly) stay
apart by style, not by position: a wide pale band under a solid line under
a dashed one with dots. Counts per second are drawn as steps (each value
holds for its whole second), so a staircase of rates reads as one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#d62728", "#8c564b", "#17becf", "#7f7f7f")
LEFT, RIGHT, TOP, BOTTOM = 72, 24, 58, 44


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    points: Sequence[tuple[float, float | None]]   # None leaves a gap
    color: str = ""
    dash: str = ""                                  # e.g. "6 4"
    width: float = 2.0
    #: each point's value holds until the next point's x (a step line); the last
    #: point only ends the line, its value unused
    step: bool = False
    opacity: float = 1.0
    #: a dot at each point, so a line under another stays visible
    dots: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    label: str
    color: str = "#d62728"
    strong: bool = True


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1, 2 or 5 times a power of ten step giving about ``ticks`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:g}"
    return f"{value:.3g}"


class _Scale:
    def __init__(self, lo: float, hi: float, log: bool, pixels: tuple[float, float]) -> None:
        self.lo, self.hi, self.log = lo, hi, log
        self.p0, self.p1 = pixels

    def __call__(self, value: float) -> float:
        if self.log:
            value = max(value, self.lo)
            frac = (math.log10(value) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            frac = (value - self.lo) / (self.hi - self.lo)
        return self.p0 + frac * (self.p1 - self.p0)

    def ticks(self) -> list[float]:
        if self.log:
            first, last = round(math.log10(self.lo)), round(math.log10(self.hi))
            # few decades: 1, 2 and 5 of each, so a narrow range still has ticks to read
            mults = (1, 2, 5) if last - first <= 3 else (1,)
            return [m * 10.0 ** e for e in range(first, last + 1) for m in mults
                    if m * 10.0 ** e <= self.hi * (1 + 1e-9)]
        step = nice_step(self.hi - self.lo)
        count = int((self.hi - self.lo) / step + 1e-9)
        return [self.lo + i * step for i in range(count + 1)]


def _y_range(values: list[float], log: bool) -> tuple[float, float]:
    if log:
        positive = [v for v in values if v > 0]
        if not positive:
            return 0.1, 10.0
        lo = 10 ** math.floor(math.log10(min(positive)))
        hi = 10 ** math.ceil(math.log10(max(positive)))
        return lo, hi if hi > lo else lo * 10
    top = max(values, default=0.0)
    if top <= 0:
        return 0.0, 1.0
    step = nice_step(top)
    return 0.0, step * math.ceil(top * 1.04 / step)


def chart(
    title: str,
    lines: Sequence[Line],
    *,
    y_label: str,
    x_label: str = "seconds since start",
    x_max: float | None = None,
    log_y: bool = False,
    markers: Sequence[Marker] = (),
    width: int = 960,
    height: int = 300,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    x_min: float = 0.0,
) -> str:
    """An ``<svg>`` element with the lines drawn, as text."""
    values = [y for line in lines for _, y in line.points if y is not None]
    xs = [x for line in lines for x, _ in line.points]
    x_hi = x_max if x_max is not None else max(xs, default=1.0)
    x = _Scale(x_min, max(x_hi, x_min + 1e-9), False, (LEFT, width - RIGHT))
    y = _Scale(*_y_range(values, log_y), log_y, (height - BOTTOM, TOP))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
           'font-family="system-ui, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="{LEFT}" y="18" font-size="15" font-weight="600">{escape(title)}</text>']
    out += _axes(x, y, width, height, x_label, y_label, x_ticks)
    if not values:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#888">'
                   "no data</text>")
    for i, line in enumerate(lines):
        out += _polyline(line, line.color or PALETTE[i % len(PALETTE)], x, y)
    out += _legend(lines, width)
    for marker in markers:
        out += _marker(marker, x, height)
    out.append("</svg>")
    return "\n".join(out)


def _axes(x: _Scale, y: _Scale, width: int, height: int, x_label: str, y_label: str,
          x_ticks: Sequence[tuple[float, str]] | None = None) -> list[str]:
    out = []
    for tick in y.ticks():
        py = y(tick)
        out.append(f'<line x1="{LEFT}" y1="{py:.1f}" x2="{width - RIGHT}" y2="{py:.1f}" stroke="#e6e6e6"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end" fill="#444">{_fmt(tick)}</text>')
    ticks = x_ticks if x_ticks is not None else [(t, _fmt(t)) for t in x.ticks()]
    for tick, label in ticks:
        px = x(tick)
        out.append(f'<line x1="{px:.1f}" y1="{height - BOTTOM}" x2="{px:.1f}" y2="{height - BOTTOM + 5}" '
                   'stroke="#444"/>')
        out.append(f'<text x="{px:.1f}" y="{height - BOTTOM + 18}" text-anchor="middle" fill="#444">'
                   f"{escape(label)}</text>")
    out.append(f'<line x1="{LEFT}" y1="{height - BOTTOM}" x2="{width - RIGHT}" y2="{height - BOTTOM}" '
               'stroke="#444"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{height - BOTTOM}" stroke="#444"/>')
    out.append(f'<text x="{(LEFT + width - RIGHT) / 2}" y="{height - 8}" text-anchor="middle" '
               f'fill="#444">{escape(x_label)}</text>')
    mid = (TOP + height - BOTTOM) / 2
    out.append(f'<text x="16" y="{mid}" text-anchor="middle" fill="#444" '
               f'transform="rotate(-90 16 {mid})">{escape(y_label)}</text>')
    return out


def _polyline(line: Line, color: str, x: _Scale, y: _Scale) -> list[str]:
    runs: list[list[str]] = [[]]
    points = list(line.points)
    for i, (px, py) in enumerate(points):
        if py is None or (y.log and py <= 0):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(f"{x(px):.1f},{y(py):.1f}")
        if line.step and i + 1 < len(points):  # hold the value to the next point, then rise or fall
            runs[-1].append(f"{x(points[i + 1][0]):.1f},{y(py):.1f}")
    style = f' stroke-dasharray="{line.dash}"' if line.dash else ""
    if line.opacity < 1:
        style += f' stroke-opacity="{line.opacity:g}"'
    out = []
    for run in runs:
        if len(run) == 1:
            cx, cy = run[0].split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
        elif run:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="{line.width:g}"{style} '
                       f'stroke-linejoin="round" points="{" ".join(run)}"/>')
    if line.dots:
        out += _dots(line, color, x, y)
    return out


def _dots(line: Line, color: str, x: _Scale, y: _Scale) -> list[str]:
    """A dot per value: mid-step for a step line (whose last point only ends it)."""
    points = list(line.points)
    out = []
    for i, (px, py) in enumerate(points):
        if py is None or (y.log and py <= 0):
            continue
        if line.step:
            if i + 1 == len(points):
                break
            cx = (x(px) + x(points[i + 1][0])) / 2
        else:
            cx = x(px)
        out.append(f'<circle cx="{cx:.1f}" cy="{y(py):.1f}" r="3" fill="{color}"/>')
    return out


def _legend(lines: Sequence[Line], width: int) -> list[str]:
    out, px, py = [], float(LEFT), 38.0
    for i, line in enumerate(lines):
        color = line.color or PALETTE[i % len(PALETTE)]
        span = 34 + 7 * len(line.name)
        if px + span > width - RIGHT:
            break  # a legend that does not fit is cut, not drawn over the plot
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        if line.opacity < 1:
            dash += f' stroke-opacity="{line.opacity:g}"'
        out.append(f'<line x1="{px:.0f}" y1="{py - 4}" x2="{px + 22:.0f}" y2="{py - 4}" stroke="{color}" '
                   f'stroke-width="{min(line.width + 1, 8)}"{dash}/>')
        if line.dots:
            out.append(f'<circle cx="{px + 11:.0f}" cy="{py - 4}" r="3" fill="{color}"/>')
        out.append(f'<text x="{px + 27:.0f}" y="{py}" fill="#222">{escape(line.name)}</text>')
        px += span
    return out


def _marker(marker: Marker, x: _Scale, height: int) -> list[str]:
    px = x(marker.x)
    width = 2 if marker.strong else 1
    dash = "6 3" if marker.strong else "2 3"
    return [f'<line x1="{px:.1f}" y1="{TOP - 4}" x2="{px:.1f}" y2="{height - BOTTOM}" stroke="{marker.color}" '
            f'stroke-width="{width}" stroke-dasharray="{dash}"/>',
            f'<text x="{px + 4:.1f}" y="{TOP + (8 if marker.strong else 22)}" fill="{marker.color}" font-size="11" '
            f'font-weight="{600 if marker.strong else 400}">{escape(marker.label)}</text>']
