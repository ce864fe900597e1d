"""Every human-readable text the journal commands print, from the values the library returns.

The library (``engine``, ``campaigns``) answers with values: a
``CampaignSummary``, a ``JournalSummary``, ``CampaignView``s, a
``CancelSummary``. Turning them into lines for a person is the command
line's job, and happens here only; ``--json`` prints the same values'
``to_dict()`` instead. Pure: strings out, nothing printed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: ``bulksend count`` must not pay for importing the campaign code
    from bulksend.campaigns.cancel import CancelSummary
    from bulksend.campaigns.runner import JournalSummary
    from bulksend.campaigns.status import CampaignView
    from bulksend.core.limits import Limit
    from bulksend.engine import CampaignSummary


# -- a run -------------------------------------------------------------------
def summary_text(summary: CampaignSummary) -> str:
    """What a run did: counts, speed, the message's parts, the last errors."""
    s = summary
    lines = [f"campaign {s.campaign} on plan {s.plan}"]
    if s.waiting:  # a resume: recipients the journal held, apart from what this run read of the list
        lines.append(f"  from before{s.waiting:>10,}   recipients the journal held (read by an earlier run)")
    lines += [
        f"  read       {s.recipients_read:>10,}" + ("   lines of the list, this run" if s.waiting else ""),
        f"  invalid    {s.invalid:>10,}   duplicates {s.duplicates:,}   excluded {s.excluded:,}",
        f"  sent       {s.sent:>10,}   in {s.batches:,} batches, {s.requests:,} requests, {s.retries:,} retries",
        f"  failed     {s.failed:>10,}   unknown {s.unknown:,}   not sent {s.not_sent:,}",
        f"  elapsed    {s.elapsed_s:>10.2f}s  ({s.rate:,.0f} recipients/s)",
    ]
    if s.parts:
        per = s.parts["parts_per_recipient"]
        lines.append(f"  message    {s.parts['encoding']:>10}   {per['min']}-{per['max']} parts per recipient, "
                     f"{s.parts['total_parts']:,} parts for the {s.parts['recipients']:,} recipients taken on")
    if s.limit is not None:
        lines.append(f"  limited by {limit_text(s.limit)}")
    if s.stopped_reason:
        lines.append(f"  stopped: {s.stopped_reason}")
    if s.last_errors:
        label = "last errors" if s.failed or s.unknown or s.not_sent else "recovered from (retried)"
        lines.append(f"  {label}:")
        lines.extend(f"    {err}" for err in s.last_errors[-3:])
    return "\n".join(lines) + "\n"


def _ms(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds * 1000:,.0f} ms"


def limit_short(limit: Limit) -> str:
    """What holds the rate back, in a few words (the live line)."""
    if limit.kind == "rate":
        return f"the plan's rate ({limit.plan_rate:,.0f}/s)"
    if limit.kind == "concurrency":
        return f"concurrency {limit.concurrency} ({_ms(limit.latency_s)} a request)"
    if limit.kind == "provider":
        return f"the provider's 429s ({limit.rate_limited:,} of {limit.requests:,} requests)"
    return f"the client's CPU ({(limit.cpu or 0) * 100:.0f}% of a core)"


def limit_text(limit: Limit) -> str:
    """What held the rate back, with the figures that show it (the summary)."""
    m = limit
    if m.kind == "rate":
        return f"the plan's rate: {m.achieved:,.0f} of the plan's {m.plan_rate:,.0f} recipients/s"
    if m.kind == "concurrency":
        each = "" if m.batch <= 1.05 else f" of {m.batch:,.0f} recipients"
        text = (f"requests in flight: {m.concurrency} in flight{each} × {_ms(m.latency_s)} = "
                f"{m.ceiling or 0:,.0f}/s")
        if m.needed is not None:
            text += f"; concurrency {m.needed} would reach the plan's {m.plan_rate:,.0f}/s"
        return text
    if m.kind == "provider":
        share = 100.0 * m.rate_limited / m.requests if m.requests else 0.0
        return (f"the provider: {m.rate_limited:,} of {m.requests:,} requests ({share:.0f}%) answered 429; "
                f"its limit is below the plan's {m.plan_rate:,.0f}/s")
    return (f"the client's CPU: {(m.cpu or 0) * 100:.0f}% of a core busy at {m.achieved:,.0f} recipients/s "
            f"(the plan allows {m.plan_rate:,.0f}/s)")


def go_on_with(campaign: str, config_path: str | None = None, journal: str | None = None) -> str:
    """The command that resumes ``campaign``, with the paths it was given (none it was not)."""
    import shlex

    cmd = f"bulksend resume {shlex.quote(campaign)}"
    # resume needs the config: a status not given one cannot know which it was
    cmd += f" --config {shlex.quote(config_path)}" if config_path else " --config <the campaign's config file>"
    if journal:
        cmd += f" --journal {shlex.quote(journal)}"
    return cmd


def outcome_text(result: JournalSummary, config_path: str | None = None, journal: str | None = None) -> str:
    """How a journaled run ended: its summary, where the campaign stands, what to do next.
    ``config_path``, ``journal``: as given on the command line, for the command to go on with."""
    out = summary_text(result.summary) if result.summary is not None else ""
    n = result.counts
    line = (f"journal {result.journal}: campaign {result.campaign} {result.state}"
            + (f" ({result.reason})" if result.reason else "")
            + f"; accepted {n.accepted:,} of {n.total:,}, failed {n.failed:,}, unknown {n.unknown:,}, "
              f"pending {n.pending:,}")
    if n.in_flight:
        line += f", in flight {n.in_flight:,}"
    out += line + "\n"
    if result.state in ("paused", "scheduled"):
        out += f"go on with: {go_on_with(result.campaign, config_path, journal)}\n"
    elif n.unknown:
        out += (f"{n.unknown:,} recipients may or may not have been sent (the provider cannot be asked); "
                f"'bulksend resume {result.campaign} --resend-unknown' sends them again\n")
    return out


def demo_journal_text(outcome: JournalSummary) -> str:
    """``bulksend demo``: where its campaign went, and what to try next."""
    return (f"journal {outcome.journal}: campaign {outcome.campaign} {outcome.state} "
            f"(try: bulksend status {outcome.campaign}; bulksend report {outcome.campaign} --out report.csv)")


def demo_sandbox_text(received: dict[str, Any], workdir: str) -> str:
    """``bulksend demo``: what the sandbox received (its own count, not the sender's), and the files."""
    twice = received["numbers_received_more_than_once"]
    dropped = received["drops"] + received["accept_drops"] + received["late_accepts"]
    return (f"sandbox: {received['distinct_numbers']:,} distinct numbers received, "
            f"{twice:,} more than once; {received['rate_limited']:,} answered 429, "
            f"{received['server_errors']:,} 5xx, {dropped:,} dropped\n"
            f"files: {workdir}/numbers.csv, results.csv, results.rejects.csv")


# -- status --------------------------------------------------------------------
def _progress(v: CampaignView) -> str:
    """Accepted of all; the rest said apart (failed and unknown are in their own columns)."""
    n = v.counts
    if not v.record.staged:
        if v.state == "cancelled":
            return f"{n.accepted:,} accepted; cancelled while reading the list ({v.record.read:,} lines read)"
        return f"staging ({v.record.read:,} read)"
    pct = 100.0 * n.accepted / n.total if n.total else 100.0
    text = f"{n.accepted:,}/{n.total:,} {pct:.0f}%"
    withdrawn = n.cancelled + (n.pending if v.state == "cancelled" else 0)  # never to be sent
    if withdrawn:
        text += f", {withdrawn:,} cancelled"
    return text


def status_list(views: list[CampaignView]) -> str:
    """``bulksend status``: one line a campaign, in columns."""
    if not views:
        return "no campaigns in this journal"
    rows = [("CAMPAIGN", "STATE", "PLAN", "PROGRESS", "FAILED", "UNKNOWN", "START")]
    for v in views:
        rows.append((v.record.name, v.state, v.record.target.plan, _progress(v),
                     f"{v.counts.failed:,}", f"{v.counts.unknown:,}", v.start))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def status_one(v: CampaignView, now: float | None = None, config_path: str | None = None,
               journal: str | None = None) -> str:
    """``bulksend status NAME``: one campaign's counts by state, rate, ETA and last errors."""
    c, n = v.record, v.counts
    state = v.state + (f": {c.reason}" if c.reason else "")
    if v.holder:
        state += f" ({v.holder})"
    lines = [
        f"campaign {c.name} (plan {c.target.plan}, {c.target.provider}"
        + (f" {c.target.account}" if c.target.account else "") + ")",
        f"  state       {state}",
    ]
    if v.start:
        lines.append(f"  start       {v.start}")
    lines += [
        f"  list        {c.source.path}: read {c.read:,}, invalid {c.invalid:,}, duplicates {c.duplicates:,}, "
        f"excluded {c.excluded:,}" + ("" if c.staged else " (the list is still being read)"),
        f"  recipients  {n.total:,}",
        f"  accepted    {n.accepted:>12,}",
        f"  failed      {n.failed:>12,}",
        f"  unknown     {n.unknown:>12,}",
        f"  in flight   {v.sending:>12,}",
    ]
    if v.ahead:
        lines.append(f"  queued      {v.ahead:>12,}   (written to the journal ahead of their requests)")
    lines.append(f"  pending     {n.pending:>12,}")
    if n.cancelled:
        lines.append(f"  cancelled   {n.cancelled:>12,}")
    if v.rate:
        eta = f"; ETA {duration(v.eta_s)} at that rate" if v.eta_s is not None else ""
        lines.append(f"  rate        {v.rate:,.0f} recipients/s over its last minute of sending{eta}")
    from bulksend.journal.records import iso_utc  # here: the journal's modules are not light

    age = (now or time.time()) - c.updated_at
    lines.append(f"  updated     {iso_utc(c.updated_at)} ({duration(max(0.0, age))} ago)")
    for err in v.last_errors:
        lines.append(f"  last error  {err}")
    if v.state in ("paused", "interrupted", "scheduled"):
        lines.append(f"  go on with  {go_on_with(c.name, config_path, journal)}")
    return "\n".join(lines)


# -- cancel and report -----------------------------------------------------------
def cancel_text(result: CancelSummary) -> str:
    """``bulksend cancel``: what was cancelled, what the provider withdrew, what it could not."""
    n = result.counts
    lines = [f"campaign {result.campaign} cancelled (was {result.was}); {n.pending:,} recipients will not be sent"]
    if result.withdrawn_batches:
        lines.append(f"  withdrawn at the provider: {result.withdrawn_batches:,} scheduled batches, "
                     f"{result.withdrawn_recipients:,} recipients")
    lines.extend(f"  note: {text}" for text in result.notes)
    lines.extend(f"  could not withdraw: {text}" for text in result.failures)
    return "\n".join(lines)


def report_written(rows: int, path: str) -> str:
    return f"wrote {rows:,} rows to {path}"
