"""The HTML report: one self-contained file (inline SVG, no scripts, nothing
fetched) with rate, latency, 429s and deliveries over time, the first
saturated second marked, and the summary tables.

A ``--find-max`` report lays its steps end to end on one time axis, each
step's boundary marked with its rate and verdict, so the staircase of the
search and where it broke can be seen at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from bulksend.errors import InputError
from bulksend.loadtest.api import FindMaxResult
from bulksend.loadtest.histogram import Percentiles
from bulksend.loadtest.result import LoadTestResult, SecondPoint
from bulksend.loadtest.svg import PALETTE, Line, Marker, chart

GAP = 1.0  # seconds of empty axis between find-max steps

_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.headline { font-size: 18px; padding: 10px 14px; border-radius: 6px; margin: 14px 0; }
.bad { background: #fdecea; border-left: 6px solid #d62728; }
.good { background: #eaf6ea; border-left: 6px solid #2ca02c; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 10px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafafa; } .note { color: #666; font-size: 13px; }
td.why { text-align: left; max-width: 420px; }
svg { display: block; margin: 10px 0; border: 1px solid #eee; }
"""


@dataclass(frozen=True, slots=True)
class _Segment:
    offset: float
    result: LoadTestResult
    label: str = ""
    ok: bool | None = None


def _series(segments: Sequence[_Segment], value: Callable[[SecondPoint], float | None],
            sending_only: bool = False) -> list[tuple[float, float | None]]:
    """Points at the middle of each second; ``sending_only`` stops at the end
    of the schedule (the seconds after it hold only late answers and reports)."""
    points: list[tuple[float, float | None]] = []
    for seg in segments:
        if points:
            points.append((seg.offset - GAP / 2, None))  # no line across the gap
        seconds = seg.result.seconds
        if sending_only:
            seconds = seconds[:math.ceil(seg.result.ran - 1e-9)]
        points += [(seg.offset + p.t + 0.5, value(p)) for p in seconds]
    return points


def _steps(segments: Sequence[_Segment], value: Callable[[SecondPoint], int],
           bridge: bool = False) -> list[tuple[float, float | None]]:
    """Counts per second of sending as a step line (see ``Line.step``).

    Only the schedule's seconds: answers trickling in after it would draw a
    collapse at every step's end. A last, partial second counts at its rate
    (40 due in the half second left is 80/s). ``bridge`` holds a step's level
    across the gap to the next step, so a find-max target reads as a staircase.
    """
    points: list[tuple[float, float | None]] = []
    for seg in segments:
        span = seg.result.ran
        for p in seg.result.seconds[:math.ceil(span - 1e-9)]:
            covered = min(1.0, span - p.t)
            points.append((seg.offset + p.t, value(p) / covered))
        if not bridge:
            points.append((seg.offset + span, None))
    if bridge and segments:
        points.append((segments[-1].offset + segments[-1].result.ran, None))
    return points


def _charts(segments: Sequence[_Segment], markers: list[Marker]) -> list[str]:
    last = segments[-1]
    x_max = last.offset + max(len(last.result.seconds), last.result.duration)
    delivery = any(s.result.delivery_measured for s in segments)
    # Drawn wide-pale, solid, then dashed with dots: all three stay visible when they coincide.
    rates = [
        Line("target", _steps(segments, lambda p: p.target, bridge=True), "#7f7f7f", width=9,
             step=True, opacity=0.35),
        Line("sent", _steps(segments, lambda p: p.sent), "#1f77b4", step=True),
        Line("accepted (2xx)", _steps(segments, lambda p: p.accepted), "#2ca02c", "6 4", step=True,
             dots=True),
    ]
    if delivery:
        rates.append(Line("delivered", _steps(segments, lambda p: p.delivered), "#9467bd", "2 3",
                          step=True))
    latency = [
        Line("p99 from intended", _series(segments, lambda p: p.latency_p99), "#d62728", dots=True),
        Line("p50 from intended", _series(segments, lambda p: p.latency_p50), "#1f77b4", dots=True),
        Line("p99 from send", _series(segments, lambda p: p.service_p99), "#ff7f0e", "5 3"),
        Line("p50 from send", _series(segments, lambda p: p.service_p50), "#17becf", "5 3"),
    ]
    trouble = [
        Line("429 answers", _steps(segments, lambda p: p.rate_limited), "#d62728", step=True, width=3),
        Line("other failed answers", _steps(segments, lambda p: p.errors), "#8c564b", "6 3", step=True),
        Line("dropped sends (recipients)", _steps(segments, lambda p: p.dropped), "#ff7f0e", "2 2",
             step=True),
        Line("late sends (recipients)", _steps(segments, lambda p: p.late), "#9467bd", "8 3 2 3",
             step=True),
    ]
    out = [
        chart("Rate: target vs achieved (recipients per second)", rates, y_label="recipients / s",
              x_max=x_max, markers=markers),
        chart("HTTP latency per second (log scale)", latency, y_label="ms", x_max=x_max, log_y=True,
              markers=markers),
        chart("429s, failures, dropped and late sends per second", trouble, y_label="per second",
              x_max=x_max, markers=markers),
    ]
    if delivery:
        deliveries = [
            Line("p99 accepted → delivered", _series(segments, lambda p: p.delivery_p99), "#d62728",
                 dots=True),
            Line("p50 accepted → delivered", _series(segments, lambda p: p.delivery_p50), "#1f77b4",
                 dots=True),
        ]
        out.append(chart("Delivery latency by second of acceptance (log scale)", deliveries,
                         y_label="ms", x_max=x_max, log_y=True, markers=markers))
    return out


def _nines(percentile: float) -> float:
    """The x of a percentile on a distribution plot: 0 at 0 %, 1 at 90 %, 2 at 99 %, ..."""
    return math.log10(100.0 / max(100.0 - percentile, 1e-9))


def distribution_chart(title: str, named: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> str:
    """Latency by percentile, the tail stretched out (as HdrHistogram's plotter and wrk2 show it).

    The max is drawn at the last percentile its sample count can tell (1 in N)."""
    lines = []
    for i, (name, points) in enumerate(named):
        finite = [(p, ms) for p, ms in points if p < 100.0]
        if not finite:
            continue
        xs = [(_nines(p), ms) for p, ms in finite]
        top = max(x for x, _ in xs)
        max_ms = next((ms for p, ms in points if p == 100.0), None)
        if max_ms is not None:
            xs.append((top + 0.5, max_ms))
        lines.append(Line(name, xs, PALETTE[i % len(PALETTE)], ("", "6 3", "2 3", "8 3 2 3")[i % 4] if i else "",
                          dots=True))
    x_hi = max((x for line in lines for x, _ in line.points), default=1.0)
    ticks = [(float(k), f"{100 - 100 / 10 ** k:.{max(0, k - 2)}f}%") for k in range(0, math.floor(x_hi) + 1)]
    return chart(title, lines, y_label="ms", x_label="percentile (max at the right end)", x_max=x_hi,
                 x_ticks=ticks)


def _distributions(r: LoadTestResult) -> str:
    names = {"latency": "from intended time", "service_time": "from actual send",
             "lateness": "send lateness", "delivery": "accepted → delivered"}
    http = [(names[k], r.distributions[k]) for k in ("latency", "service_time", "lateness")
            if r.distributions.get(k)]
    out = [distribution_chart("Latency by percentile (whole run)", http)] if http else []
    if r.distributions.get("delivery"):
        out.append(distribution_chart("Delivery latency by percentile (whole run)",
                                      [(names["delivery"], r.distributions["delivery"])]))
    return "\n".join(out)


def _percentile_table(r: LoadTestResult) -> str:
    rows: list[tuple[str, Percentiles]] = [
        ("latency from intended time", r.latency), ("latency from actual send", r.service_time),
        ("send lateness", r.lateness)]
    if r.delivery_latency is not None:
        rows.append(("accepted → delivered", r.delivery_latency))
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{p.count:,}</td>"
        + "".join(f"<td>{v:,.2f}</td>" for v in (p.p50, p.p90, p.p99, p.p999, p.max)) + "</tr>"
        for name, p in rows)
    return ("<table><tr><th>ms</th><th>samples</th><th>p50</th><th>p90</th><th>p99</th>"
            f"<th>p99.9</th><th>max</th></tr>{body}</table>")


def _summary_table(r: LoadTestResult) -> str:
    rows = [
        ("recipients / s", f"{r.target_rate:,.1f}", f"{r.achieved_rate:,.1f}"),
        ("requests / s", f"{r.target_rate / r.batch_size:,.1f}", f"{r.achieved_requests_rate:,.1f}"),
        ("parts / s", f"{r.target_rate * r.parts_per_message:,.1f}", f"{r.achieved_parts_rate:,.1f}"),
    ]
    body = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
    counts = [
        ("recipients sent / due", f"{r.recipients_sent:,} / {r.recipients_due:,}"),
        ("requests (retries)", f"{r.requests:,} ({r.retries:,})"),
        ("accepted / failed recipients", f"{r.accepted:,} / {r.failed:,}"),
        ("429 answers", f"{r.rate_limited:,} ({r.rate_limited_share:.1%} of requests)"),
        ("dropped (in-flight cap, or not started by the end)", f"{r.dropped:,}"),
        (f"late (> {r.late_bound_ms:g} ms)", f"{r.late:,}"),
        ("answers by status", ", ".join(f"{k}: {v:,}" for k, v in r.statuses.items()) or "none"),
    ]
    if r.delivery_measured:
        counts += [("delivered (avg / peak per s)",
                    f"{r.delivered:,} ({r.delivered_rate:,.1f} / {r.peak_delivered_rate:,})"),
                   ("no report / failed", f"{r.undelivered:,} / {sum(r.delivery_failed.values()):,}")]
    body2 = "".join(f"<tr><td>{escape(a)}</td><td>{escape(b)}</td></tr>" for a, b in counts)
    return (f"<table><tr><th></th><th>target</th><th>achieved</th></tr>{body}</table>"
            f"<table>{body2}</table>")


def _page(title: str, subtitle: str, headline: str, good: bool, sections: list[str]) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1><div class=\"note\">{escape(subtitle)}</div>"
            f"<div class=\"headline {'good' if good else 'bad'}\">{escape(headline)}</div>"
            + "\n".join(sections) + "</body></html>\n")


def _describe(r: LoadTestResult) -> str:
    rate = (f"{r.start_rate:,.0f} recipients/s" if r.start_rate == r.end_rate
            else f"ramp {r.start_rate:,.0f} → {r.end_rate:,.0f} recipients/s")
    ran = f" (stopped after {r.ran:,.1f} s; rates over that)" if r.ran < r.duration else ""
    return (f"{rate} for {r.duration:g} s{ran}, {r.batch_size} recipient(s) per request, "
            f"{r.parts_per_message} part(s) per message, {r.workers} worker process(es)")


def headline_rates(r: LoadTestResult) -> str:
    """Sent against target, what the provider took, and the share it refused with 429."""
    accepted = r.accepted / r.ran if r.ran else 0.0
    text = (f"Sent {r.achieved_rate:,.1f} of {r.target_rate:,.1f} recipients/s; "
            f"accepted {accepted:,.1f}/s. ")
    if r.rate_limited:
        text += (f"{r.rate_limited_share:.1%} of requests ({r.rate_limited:,} of {r.requests:,}) were "
                 f"answered 429 (too many requests). ")
    else:
        text += "No request was answered 429. "
    return text + f"p99 latency {r.latency.p99:,.2f} ms from intended time."


def render_result(r: LoadTestResult) -> str:
    markers = []
    if r.generator_behind is not None:
        markers.append(Marker(r.generator_behind.second, f"generator behind: {r.generator_behind.reason}",
                              "#ff7f0e", strong=False))
    if r.saturation is not None:
        markers.append(Marker(r.saturation.second, f"plan saturated: {r.saturation.reason}"))
        headline = f"The plan saturated from second {r.saturation.second}: {r.saturation.reason}. "
    else:
        headline = "No saturation seen. "
    headline += headline_rates(r)
    if r.generator_behind is not None:
        headline += (f" The load generator fell behind from second {r.generator_behind.second} "
                     f"({r.generator_behind.reason}).")
    if r.stopped:
        headline += f" Stopped: {r.stopped}"
    sections = [*_charts([_Segment(0.0, r)], markers), "<h2>Latency distribution</h2>", _distributions(r),
                "<h2>Summary</h2>", _summary_table(r), "<h2>Latency percentiles</h2>", _percentile_table(r),
                _NOTES]
    return _page(f"bulksend load test — plan {r.plan}", _describe(r), headline,
                 r.saturation is None and r.generator_behind is None and not r.stopped, sections)


def render_find_max(found: FindMaxResult) -> str:
    segments, offset = [], 0.0
    for step in found.steps:
        segments.append(_Segment(offset, step.result, f"{step.rate:,.0f}/s", step.verdict.ok))
        offset += max(len(step.result.seconds), step.result.duration) + GAP
    markers = [Marker(s.offset, f"{s.label} {'ok' if s.ok else 'fail'}",
                      "#2ca02c" if s.ok else "#d62728", strong=False) for s in segments]
    if found.max_rate is None:
        headline = "No rate tried kept within the bounds."
    else:
        headline = f"Highest sustainable rate: {found.max_rate:,.1f} recipients/s."
        if found.first_failing is not None:
            whose = "the plan" if found.limited_by == "plan" else "the load generator"
            headline += (f" {found.first_failing:,.1f}/s failed ({'; '.join(found.reasons)}): "
                         f"the limit is {whose}'s.")
    rows = "".join(
        f"<tr><td>{i}</td><td>{s.rate:,.1f}</td><td>{s.result.achieved_rate:,.1f}</td>"
        f"<td>{s.result.rate_limited:,} ({s.result.rate_limited_share:.1%})</td><td>{s.result.latency.p99:,.2f}</td>"
        f"<td>{s.result.lateness.p99:,.2f}</td>"
        f"<td class=\"why\">{'ok' if s.verdict.ok else escape(s.verdict.limited_by + ': ' + '; '.join(s.verdict.reasons))}"
        "</td></tr>" for i, s in enumerate(found.steps, 1))
    table = ("<table><tr><th>step</th><th>rate/s</th><th>achieved/s</th><th>429s</th>"
             f"<th>latency p99 ms</th><th>lateness p99 ms</th><th>verdict</th></tr>{rows}</table>")
    first = found.steps[0].result if found.steps else None
    subtitle = (f"{len(found.steps)} steps of {first.duration:g} s, {first.batch_size} recipient(s) per "
                f"request, {first.workers} worker process(es)") if first else ""
    by_rate = sorted(found.steps, key=lambda s: s.rate)[-8:]  # the highest: where the limit is
    curves = [(f"{s.rate:,.0f}/s {'ok' if s.verdict.ok else 'fail'}", s.result.distributions.get("latency", ()))
              for s in by_rate]
    dist = distribution_chart("Latency from intended time by percentile, per step", curves)
    sections = [*(_charts(segments, markers) if segments else []), "<h2>Latency distribution</h2>", dist,
                "<h2>Steps</h2>", table, _NOTES]
    return _page(f"bulksend find-max — plan {first.plan if first else ''}", subtitle, headline,
                 found.max_rate is not None, sections)


_NOTES = """<p class="note">Latency from intended time runs from the moment the open-loop
schedule meant to send the batch to its final answer, so a slow server or a late
generator cannot hide (no coordinated omission). Latency from send runs from the
moment the HTTP request actually left. Lateness is how far behind its schedule the
generator started a send; sends later than the bound count as late, and sends that
found the in-flight cap reached, or were still to start when the duration was up,
were dropped, never sent. Latencies per second are
HdrHistogram percentiles of the batches due in that second.</p>"""


def write_report(path: str | Path, html: str) -> Path:
    target = Path(path)
    try:
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{target}: cannot write the report: {exc.strerror}") from None
    return target
