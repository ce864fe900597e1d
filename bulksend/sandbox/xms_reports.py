"""Sinch XMS delivery reports in the sandbox: per batch (summary, full, with
``status`` and ``code`` filters), per recipient (the number with or without
``+``), the plan-wide list of finished reports, and delivery feedback.

Codes are Sinch's delivery receipt codes: 400 Queued,
401 Dispatched, 407 Cancelled, then the final fate (0 Delivered, 402 Failed,
406 Expired) from ``delivery``'s hook on the record.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from aiohttp import web

from bulksend.sandbox.http import (STATE, bad_format, error, json_response, page_of, paging, plan_or_error, read_json,
                                   record_or_error, window)
from bulksend.sandbox.state import BatchRecord
from bulksend.sandbox.xms_validate import msisdn_out, normalized_to

#: statuses that do not change any more (the report list holds only these)
FINAL = frozenset({"Delivered", "Failed", "Expired", "Cancelled", "Aborted", "Rejected", "Deleted"})


def recipient_status(record: BatchRecord, number: str, now: float) -> tuple[int, str]:
    """``(code, status)``: a hook the delivery simulation can replace."""
    hook: Callable[[BatchRecord, str, float], tuple[int, str]] | None = record.extra.get("status_hook")
    if hook is not None:
        return hook(record, number, now)
    if record.canceled and now < record.dispatched_at:
        return 407, "Cancelled"
    return (0, "Delivered") if now >= record.dispatched_at else (400, "Queued")


def _changed_at(record: BatchRecord, number: str, status: str, now: float) -> float:
    """When the recipient's status last changed (the report's ``at``)."""
    if status == "Queued":
        return record.accepted_at
    if status == "Cancelled":
        return float(record.extra.get("canceled_at", now))
    if status == "Dispatched":
        return record.dispatched_at
    final_at = getattr(record.extra.get("status_hook"), "final_at", None)
    return min(now, final_at(record, number)) if final_at is not None else now


def _filters(query: Any) -> tuple[set[str], set[int]] | web.Response:
    statuses = {s.strip().lower() for s in query.get("status", "").split(",") if s.strip()}
    try:
        codes = {int(c) for c in query.get("code", "").split(",") if c.strip()}
    except ValueError:
        return bad_format("code: a comma separated list of delivery receipt codes")
    return statuses, codes


def _wanted(code: int, status: str, statuses: AbstractSet[str], codes: AbstractSet[int]) -> bool:
    return (not statuses or status.lower() in statuses) and (not codes or code in codes)


def report_json(record: BatchRecord, now: float, full: bool,
                statuses: AbstractSet[str] = frozenset(), codes: AbstractSet[int] = frozenset()) -> dict[str, Any]:
    groups: dict[tuple[int, str], list[str]] = {}
    for number in record.to:
        groups.setdefault(recipient_status(record, number, now), []).append(number)
    entries = []
    for (code, status), numbers in sorted(groups.items()):
        if not _wanted(code, status, statuses, codes):
            continue
        entry: dict[str, Any] = {"code": code, "status": status, "count": len(numbers)}
        if full:
            entry["recipients"] = numbers
        entries.append(entry)
    out: dict[str, Any] = {"type": "delivery_report_sms", "batch_id": record.id,
                           "total_message_count": len(record.to), "statuses": entries}
    if record.client_reference is not None:
        out["client_reference"] = record.client_reference
    return out


def recipient_json(record: BatchRecord, number: str, now: float, iso: Callable[[float], str]) -> dict[str, Any]:
    code, status = recipient_status(record, number, now)
    at = iso(_changed_at(record, number, status, now))
    out: dict[str, Any] = {"type": "recipient_delivery_report_sms", "batch_id": record.id, "recipient": number,
                           "code": code, "status": status, "at": at}
    if status not in ("Queued",):
        out["operator_status_at"] = at
    if record.client_reference is not None:
        out["client_reference"] = record.client_reference
    sender = record.data.get("from")
    if isinstance(sender, str):
        out["applied_originator"] = sender
    return out


async def delivery_report(request: web.Request) -> web.Response:
    found = record_or_error(request)
    if isinstance(found, web.Response):
        return found
    _plan, record = found
    kind = request.query.get("type", "summary")
    if kind not in ("summary", "full"):
        return bad_format("type must be summary or full")
    wanted = _filters(request.query)
    if isinstance(wanted, web.Response):
        return wanted
    return json_response(report_json(record, request.app[STATE].clock(), kind == "full", *wanted))


async def recipient_report(request: web.Request) -> web.Response:
    found = record_or_error(request)
    if isinstance(found, web.Response):
        return found
    _plan, record = found
    number = msisdn_out(request.match_info["msisdn"])  # "+4670..." and "004670..." find "4670..."
    if number not in record.to:
        return error(404, "not_found", "no such recipient in the batch")
    clock = request.app[STATE].clock
    return json_response(recipient_json(record, number, clock(), clock.iso))


async def list_reports(request: web.Request) -> web.Response:
    """``GET /delivery_reports``: finished per-recipient reports, newest batches first."""
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    clock = request.app[STATE].clock
    now = clock()
    paged, span, wanted = paging(request.query), window(request.query, clock.wall(now)), _filters(request.query)
    for answer in (paged, span, wanted):
        if isinstance(answer, web.Response):
            return answer
    assert not isinstance(paged, web.Response) and not isinstance(span, web.Response)
    assert not isinstance(wanted, web.Response)
    ref = request.query.get("client_reference")
    rows = []
    for record in sorted(plan.batches.values(), key=lambda r: r.created, reverse=True):
        if not span[0] <= record.created < span[1] or (ref is not None and record.client_reference != ref):
            continue
        for number in record.to:
            report = recipient_json(record, number, now, clock.iso)
            if report["status"] in FINAL and _wanted(report["code"], report["status"], *wanted):
                rows.append(report)
    return json_response(page_of(rows, *paged, "delivery_reports"))


async def delivery_feedback(request: web.Request) -> web.Response:
    """``POST .../delivery_feedback``: which recipients got the message (202, no body)."""
    found = record_or_error(request)
    if isinstance(found, web.Response):
        return found
    plan, record = found
    data = await read_json(request)
    if isinstance(data, web.Response):
        return data
    if not isinstance(data, dict):
        return error(400, "syntax_invalid_json", "The request body must be a JSON object")
    numbers = normalized_to(data.get("recipients"), {}, partial_name="recipients")
    if isinstance(numbers, web.Response):
        return numbers
    record.extra.setdefault("feedback", set()).update(n for n in numbers if n in record.to)
    return web.Response(status=202)


def add_routes(app: web.Application) -> None:
    base = "/xms/v1/{plan_id}"
    app.router.add_get(base + "/batches/{batch_id}/delivery_report", delivery_report)
    app.router.add_get(base + "/batches/{batch_id}/delivery_report/{msisdn}", recipient_report)
    app.router.add_post(base + "/batches/{batch_id}/delivery_feedback", delivery_feedback)
    app.router.add_get(base + "/delivery_reports", list_reports)
