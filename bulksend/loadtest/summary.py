"""The terminal tables of a load test and of a ``--find-max`` search."""

from __future__ import annotations

from bulksend.loadtest.api import FindMaxResult
from bulksend.loadtest.histogram import Percentiles
from bulksend.loadtest.result import LoadTestResult


def _rate(r: LoadTestResult) -> str:
    if r.start_rate == r.end_rate:
        return f"{r.start_rate:,.0f} recipients/s"
    return f"ramp {r.start_rate:,.0f} → {r.end_rate:,.0f} recipients/s"


def _ran(r: LoadTestResult) -> str:
    """How long it really ran, when it stopped early (the rates are over that span)."""
    return f" (stopped after {r.ran:,.1f} s; rates over that)" if r.ran < r.duration else ""


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def format_result(r: LoadTestResult) -> str:
    target_requests = r.target_rate / r.batch_size
    lines = [
        f"load test of plan {r.plan}: {_rate(r)} for {r.duration:g} s{_ran(r)}, "
        f"{_plural(r.batch_size, 'recipient')}/request, {_plural(r.workers, 'worker')}",
        f"  {'':<14}{'target':>12}{'achieved':>12}",
        f"  {'recipients/s':<14}{r.target_rate:>12,.1f}{r.achieved_rate:>12,.1f}",
        f"  {'requests/s':<14}{target_requests:>12,.1f}{r.achieved_requests_rate:>12,.1f}",
        f"  {'parts/s':<14}{r.target_rate * r.parts_per_message:>12,.1f}{r.achieved_parts_rate:>12,.1f}",
        f"  sent        {r.recipients_sent:,} of {r.recipients_due:,} recipients in "
        f"{r.batches_sent:,} batches; {r.requests:,} requests ({r.retries:,} retries)",
        f"  not on time dropped {r.dropped:,} (in-flight cap, or not started by the end), late {r.late:,} "
        f"(> {r.late_bound_ms:g} ms after their intended time)",
        "  answers     " + ("   ".join(f"{code}: {n:,}" for code, n in r.statuses.items()) or "none"),
        f"  accepted    {r.accepted:,} recipients, failed {r.failed:,}, 429 answers {r.rate_limited:,}"
        f" ({r.rate_limited_share:.1%} of requests)",
        "",
        f"  {'latency (ms)':<22}{'p50':>11}{'p90':>11}{'p99':>11}{'p99.9':>11}{'max':>11}",
        _row("from intended time", r.latency),
        _row("from actual send", r.service_time),
        _row("send lateness", r.lateness),
    ]
    if r.delivery_latency is not None:
        lines.append(_row("accepted → delivered", r.delivery_latency))
        failed = ", ".join(f"{k} {v:,}" for k, v in r.delivery_failed.items()) or "none"
        lines += ["", f"  delivered   {r.delivered:,} ({r.delivered_rate:,.1f}/s average, peak "
                      f"{r.peak_delivered_rate:,}/s); no report {r.undelivered:,}; failed: {failed}"]
    lines.append("")
    if r.saturation is None:
        lines.append("  saturation  none seen")
    else:
        lines.append(f"  saturation  from second {r.saturation.second}: {r.saturation.reason}")
    if r.generator_behind is not None:
        lines.append(f"  generator   behind from second {r.generator_behind.second}: "
                     f"{r.generator_behind.reason}")
    if r.stopped:
        lines.append(f"  stopped     {r.stopped}")
    return "\n".join(lines) + "\n"


def _row(name: str, p: Percentiles) -> str:
    if not p.count:
        return f"  {name:<22}{'no samples':>11}"
    return "  " + f"{name:<22}" + "".join(f"{v:>11,.2f}" for v in (p.p50, p.p90, p.p99, p.p999, p.max))


def format_find_max(found: FindMaxResult) -> str:
    lines = [f"  {'step':>4}{'rate/s':>11}{'achieved/s':>12}{'429s':>8}{'lat p99 ms':>12}"
             f"{'late p99 ms':>13}  verdict"]
    for i, step in enumerate(found.steps, 1):
        r, v = step.result, step.verdict
        verdict = "ok" if v.ok else f"{v.limited_by}: " + "; ".join(v.reasons)
        lines.append(f"  {i:>4}{step.rate:>11,.1f}{r.achieved_rate:>12,.1f}{r.rate_limited:>8,}"
                     f"{r.latency.p99:>12,.2f}{r.lateness.p99:>13,.2f}  {verdict}")
    if found.max_rate is None:
        head = "find-max: no rate tried kept within the bounds"
    else:
        head = f"find-max: highest sustainable rate {found.max_rate:,.1f} recipients/s"
        if found.first_failing is not None:
            whose = "the plan's limit" if found.limited_by == "plan" else "the load generator's limit"
            head += f" ({found.first_failing:,.1f}/s failed: {whose})"
        else:
            head += " (no step failed: the search stopped at its step or rate cap)"
    if found.stopped:
        lines.append(f"  stopped: {found.stopped}")
    return head + "\n" + "\n".join(lines) + "\n"
