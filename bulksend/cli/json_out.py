"""What ``--json`` prints: one builder per command, each emitting every key of
its schema every time (``null`` where a figure does not apply).

The schemas are JSON Schema files shipped in ``bulksend/schemas/``:

- ``run.schema.json``: ``send``, ``send --dry-run``, ``send --no-journal``,
  ``resume`` and ``demo`` (a fresh run, a re-run of a finished campaign and a
  dry run all have the same keys);
- ``status.schema.json``: ``status NAME`` (one campaign) and ``status`` (an array of them);
- ``loadtest.schema.json``: ``loadtest`` (``mode`` "run") and ``loadtest --find-max`` ("find-max");
- ``track.schema.json``: ``track``.

Pure: values in, plain dicts out. The library's own ``to_dict()``s are the
source; these builders only fix the shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: building the parser must not import the engine
    from bulksend.campaigns.runner import JournalSummary
    from bulksend.delivery.tracker import TrackResult
    from bulksend.engine import CampaignSummary
    from bulksend.loadtest import FindMaxResult, LoadTestResult
    from bulksend.preflight import Estimate

#: the figures of one run (``CampaignSummary``); null in a dry run and when nothing ran
RUN_FIGURES = ("recipients_read", "invalid", "duplicates", "excluded", "waiting", "sent", "failed", "unknown",
               "not_sent", "batches", "requests", "retries", "elapsed_s", "rate", "limit")
RUN_KEYS = ("command", "dry_run", "campaign", "plan", "exit_code", *RUN_FIGURES, "recipients",
            "stopped_reason", "last_errors", "parts", "journal", "sandbox")
PARTS_KEYS = ("encoding", "encodings", "recipients", "parts_per_recipient", "total_parts",
              "estimated_duration_s")
LATENCY_KEYS = ("count", "min", "mean", "p50", "p90", "p95", "p99", "max")
#: one campaign of ``status --json``; ``journaled`` false: sent with ``--no-journal``, only ``delivery`` known
STATUS_KEYS = ("campaign", "journaled", "state", "reason", "plan", "provider", "start", "counts", "read",
               "invalid", "duplicates", "excluded", "staged", "rate", "sending", "written_ahead", "eta_s", "last_errors", "created_at",
               "updated_at", "parts", "delivery")
#: ``track --json``'s ``polled`` (``TrackResult``)
POLLED_KEYS = ("campaign", "accepted", "candidates", "requests", "updated", "final", "errors")


def parts(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The message's parts (``core.estimate``), every key present; None when nothing was metered."""
    if not data:
        return None
    return {key: data.get(key) for key in PARTS_KEYS}


def run_document(command: str, *, campaign: str | None, plan: str | None, exit_code: int,
                 summary: CampaignSummary | None = None, estimate: Estimate | None = None,
                 journal: JournalSummary | None = None, sandbox: dict[str, Any] | None = None) -> dict[str, Any]:
    """``send`` / ``resume`` / ``demo`` / ``send --dry-run``: the same keys every time."""
    doc: dict[str, Any] = dict.fromkeys(RUN_KEYS)
    doc.update(command=command, dry_run=estimate is not None, campaign=campaign, plan=plan,
               exit_code=exit_code, last_errors=[], sandbox=sandbox)
    if summary is not None:
        s = summary.to_dict()
        doc.update({key: s[key] for key in RUN_FIGURES})
        doc.update(stopped_reason=s["stopped_reason"] or None, last_errors=list(s["last_errors"]),
                   parts=parts(s["parts"]))
    if estimate is not None:
        e = estimate.to_dict()
        doc.update(recipients_read=e["read"], invalid=e["invalid"], duplicates=e["duplicates"],
                   excluded=e["excluded"], parts=parts({**e, "recipients": e["recipients"]}))
    if doc["parts"] is not None:
        doc["recipients"] = doc["parts"]["recipients"]
    if journal is not None:
        j = journal.to_dict()["journal"]
        doc["journal"] = {**j, "reason": j["reason"] or None, "start_at": j["start_at"] or None}
    assert tuple(doc) == RUN_KEYS
    return doc


def journaled(command: str, result: JournalSummary) -> dict[str, Any]:
    """A journaled ``send`` or ``resume``; a re-run of a finished campaign has no run figures."""
    s = result.summary
    return run_document(command, campaign=result.campaign, plan=s.plan if s else None,
                        exit_code=result.exit_code, summary=s, journal=result)


def delivery(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """A delivery summary (``delivery.summary``), its latency with every key."""
    if summary is None:
        return None
    latency = summary["latency_s"]
    return {**summary, "latency_s": {key: latency.get(key) for key in LATENCY_KEYS}}


def status_view(view: dict[str, Any], delivery_summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """One campaign of ``status --json``; ``delivery`` is null until a report arrived."""
    doc = {**view, "journaled": True, "reason": view["reason"] or None, "start": view["start"] or None,
           "parts": parts(view["parts"]), "delivery": delivery(delivery_summary)}
    return {key: doc[key] for key in STATUS_KEYS}


def status_unjournaled(campaign: str, delivery_summary: dict[str, Any]) -> dict[str, Any]:
    """``status NAME --json`` of a campaign sent without the journal: its delivery
    is all there is; the journal's figures are null."""
    doc: dict[str, Any] = dict.fromkeys(STATUS_KEYS)
    doc.update(campaign=campaign, journaled=False, delivery=delivery(delivery_summary))
    return doc


def loadtest_run(result: LoadTestResult) -> dict[str, Any]:
    return {"mode": "run", **result.to_dict()}


def loadtest_find_max(found: FindMaxResult) -> dict[str, Any]:
    return {"mode": "find-max", **found.to_dict()}


def track_document(result: TrackResult, summary: dict[str, Any]) -> dict[str, Any]:
    polled = {k: getattr(result, k) for k in POLLED_KEYS}
    return {"polled": polled, "delivery": delivery(summary)}
