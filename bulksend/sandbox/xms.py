"""The Sinch XMS batch API, as the sandbox speaks it (the client side is ``providers.xms``).

Batches: send (text and binary; MMS is a JSON 400), get, list (newest first,
within ``start_date``/``end_date``, default the last 24 hours, at most 14 days
back), update (``POST``), replace (``PUT``), cancel and dry run. Validation is
in ``xms_validate``, delivery reports and feedback in ``xms_reports``, groups
in ``groups``, inbound messages in ``inbounds``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bulksend.sandbox.clock import iso_ms, iso_utc, parse_iso
from bulksend.sandbox.delivery import REFUSED_TEXT, callback_allowed, sender_of
from bulksend.sandbox.fates import attach
from bulksend.sandbox.faults import DroppedConnection, Fault, take_request
from bulksend.sandbox.http import (STATE, bad_format, error, json_response, page_of, paging, plan_or_error, read_json,
                                   record_or_error, violation, window)
from bulksend.sandbox.state import BatchRecord, PlanState, SandboxState
from bulksend.sandbox.xms_validate import THREE_DAYS, echo_to, msisdn_out, normalized_parameters, validate_batch

__all__ = ["STATE", "add_routes", "batch_json", "error", "json_response", "validate_batch"]

#: what the sandbox writes itself, never taken from a request
_SERVER_FIELDS = ("id", "created_at", "modified_at", "canceled")


async def create_batch(request: web.Request) -> web.Response:
    state = request.app[STATE]
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    fault = await take_request(plan, state.rng)
    early = _early_fault(fault, plan, state)
    if early is not None:
        return early
    data = await read_json(request)
    checked = data if isinstance(data, web.Response) else validate_batch(data, plan.groups, each_number=not plan.sink)
    if isinstance(checked, web.Response):
        plan.stats.bad_requests += 1
        return checked
    assert isinstance(data, dict)  # validate_batch answered 400 for anything else
    refused = _refuse_callback(data, state)
    if refused is not None:
        return refused
    now = state.clock()
    wait = plan.over_limit(len(checked), now)
    if wait is not None:
        plan.stats.rate_limited += 1
        return error(429, "too_many_requests", "Too many outstanding requests",
                     {"Retry-After": f"{max(wait, 0.001):.3f}"})
    if fault is Fault.LATE_ACCEPT:
        plan.stats.late_accepts += 1
        _accept_later(request.app, plan, data, checked)
        raise DroppedConnection()
    record = _accept(state, plan, data, checked, now)
    _schedule_delivery(request.app, plan, record)
    if fault is Fault.ACCEPT_DROP:
        plan.stats.accept_drops += 1
        raise DroppedConnection()
    return json_response(batch_json(record), 201)


def _refuse_callback(data: dict[str, Any], state: SandboxState) -> web.Response | None:
    """The sandbox calls back to loopback only; a batch asking for more is refused (400)."""
    url = data.get("callback_url")
    if url is None or (data.get("delivery_report", "none") == "none" and str(url).startswith(("http://", "https://"))):
        return None
    if isinstance(url, str) and callback_allowed(url):
        return None
    state.callbacks.refused += 1
    return violation(REFUSED_TEXT)


def _accept_later(app: web.Application, plan: PlanState, data: dict[str, Any], to: list[str]) -> None:
    """Take the batch ``late_accept_ms`` from now, though its client was already cut off."""
    state = app[STATE]

    async def later() -> None:
        await asyncio.sleep(plan.faults.late_accept_ms / 1000.0)
        _schedule_delivery(app, plan, _accept(state, plan, data, to, state.clock()))

    task = asyncio.get_running_loop().create_task(later())
    state.background.add(task)
    task.add_done_callback(state.background.discard)


def _schedule_delivery(app: web.Application, plan: PlanState, record: BatchRecord) -> None:
    fates = attach(app[STATE], record)
    sender = sender_of(app)
    if sender is not None:
        sender.schedule_xms(record, fates, plan.plan.callback_secret)


def _early_fault(fault: Fault, plan: PlanState, state: SandboxState) -> web.Response | None:
    if fault is Fault.SERVER_ERROR:
        plan.stats.server_errors += 1
        return error(state.rng.choice((500, 503)), "internal_error", "Injected server error")
    if fault is Fault.RATE_LIMIT:
        plan.stats.rate_limited += 1
        return error(429, "too_many_requests", "Too many outstanding requests",
                     {"Retry-After": f"{plan.faults.retry_after:g}"})
    if fault is Fault.DROP:
        plan.stats.drops += 1
        raise DroppedConnection()
    return None


def _batch_data(state: SandboxState, data: dict[str, Any], to: list[str], created: float) -> dict[str, Any]:
    """The request as Sinch echoes it: numbers without ``+``, defaults filled in, timestamps in UTC ms."""
    out = {k: v for k, v in data.items() if k not in _SERVER_FIELDS}
    # numbers without "+"; a group id stays in "to" as given (Sinch's mock in the Python SDK's e2e tests)
    out["to"] = echo_to(data.get("to") or to)
    if isinstance(out.get("from"), str) and out["from"].lstrip("+").isdigit():
        out["from"] = msisdn_out(out["from"])
    # "parameters" are echoed as sent, "+MSISDN" keys included (the same e2e tests, newer than the
    # docs' "every number without +"); the dry run and delivery read them through normalized_parameters
    out.setdefault("type", "mt_text")
    out.setdefault("delivery_report", "none")
    out.setdefault("flash_message", False)
    send_at = parse_iso(out["send_at"]) if "send_at" in out else created
    if "send_at" in out:
        out["send_at"] = iso_utc(send_at)
    # default and maximum: send_at + 3 days (Sinch docs, "expire_at")
    expire = min(parse_iso(out["expire_at"]), send_at + THREE_DAYS) if "expire_at" in out else send_at + THREE_DAYS
    out["expire_at"] = iso_utc(expire)
    return out


def _dispatch_at(plan: PlanState, data: dict[str, Any], recipients: int, now: float, clock_at: Any) -> float:
    """When the plan's queue sends the batch: not before its ``send_at``."""
    if "send_at" in data:
        due = clock_at(parse_iso(data["send_at"]))
        if due > now:  # scheduled: held until send_at, outside the plan's FIFO
            return float(due + recipients / plan.plan.rate)
    return plan.dispatch_time(recipients, now)


def _accept(state: SandboxState, plan: PlanState, data: dict[str, Any], to: list[str], now: float) -> BatchRecord:
    created = state.wall(now)
    stamp = iso_ms(created)
    body = _batch_data(state, data, to, created)
    record = BatchRecord(
        id=state.new_id(), to=to, accepted_at=now, created=created,
        dispatched_at=_dispatch_at(plan, body, len(to), now, state.clock.at),
        data={**body, "created_at": stamp, "modified_at": stamp, "canceled": False},
    )
    plan.record(record)
    return record


def batch_json(record: BatchRecord) -> dict[str, Any]:
    """A batch as Sinch answers it: ``id`` first (as in Sinch's own examples), then the request echoed."""
    answer = {"id": record.id, **record.data}
    answer["id"] = record.id  # a request's own "id" field never wins (and keeps no place of its own)
    answer["canceled"] = record.canceled
    return answer


async def get_batch(request: web.Request) -> web.Response:
    found = record_or_error(request)
    if isinstance(found, web.Response):
        return found
    return json_response(batch_json(found[1]))


async def cancel_batch(request: web.Request) -> web.Response:
    found = record_or_error(request)
    if isinstance(found, web.Response):
        return found
    _plan, record = found
    clock = request.app[STATE].clock
    if not record.canceled:
        record.extra["canceled_at"] = clock()
    record.canceled = True
    record.data["modified_at"] = clock.iso()
    return json_response(batch_json(record))


async def list_batches(request: web.Request) -> web.Response:
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    plan.stats.lookups += 1
    clock = request.app[STATE].clock
    q = request.query
    paged, span = paging(q), window(q, clock.wall(clock()))
    if isinstance(paged, web.Response):
        return paged
    if isinstance(span, web.Response):
        return span
    ref = q.get("client_reference")
    ids = plan.by_reference.get(ref, []) if ref is not None else list(plan.batches)
    senders = {msisdn_out(s) for s in q.get("from", "").split(",") if s}
    records = [r for r in (plan.batches[i] for i in reversed(ids))
               if span[0] <= r.created < span[1] and (not senders or r.data.get("from") in senders)]
    records.sort(key=lambda r: r.created, reverse=True)  # newest first (stable for equal times)
    return json_response(page_of([batch_json(r) for r in records], *paged, "batches"))


async def dry_run(request: web.Request) -> web.Response:
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    data = await read_json(request)
    checked = data if isinstance(data, web.Response) else validate_batch(data, plan.groups,
                                                                       each_number=not plan.sink)
    if isinstance(checked, web.Response):
        return checked
    assert isinstance(data, dict)
    try:
        limit = min(1000, int(request.query.get("number_of_recipients", "100")))
    except ValueError:
        return bad_format("number_of_recipients must be an integer")
    # "true" from curl, "True" from the official Python SDK (requests writes bools that way)
    per = request.query.get("per_recipient", "false").lower() == "true"
    return json_response(dry_run_result(data, checked, limit, per))


def dry_run_result(data: dict[str, Any], to: list[str], limit: int, per: bool) -> dict[str, Any]:
    from bulksend.core.segments import count_segments
    from bulksend.core.templates import render

    params = normalized_parameters(data.get("parameters") or {})
    defaults = {k: v["default"] for k, v in params.items() if "default" in v}
    rows: list[dict[str, Any]] = []
    total = 0
    for number in to:
        values = {k: v[number] for k, v in params.items() if number in v}
        text = render(data["body"], values, defaults)
        info = count_segments(text)
        total += info.segments
        if per and len(rows) < limit:
            rows.append({"recipient": number, "body": text, "number_of_parts": info.segments,
                         "encoding": "text" if info.encoding.value == "GSM-7" else "unicode"})
    out: dict[str, Any] = {"number_of_recipients": len(to), "number_of_messages": total}
    if per:
        out["per_recipient"] = rows
    return out


def add_routes(app: web.Application) -> None:
    """The batch routes; update/replace (``xms_update``), reports, groups and
    inbounds register their own, after these (``app.ROUTE_MODULES``)."""
    base = "/xms/v1/{plan_id}/batches"
    app.router.add_post(base, create_batch)
    app.router.add_get(base, list_batches)
    app.router.add_post(base + "/dry_run", dry_run)
    app.router.add_get(base + "/{batch_id}", get_batch)
    app.router.add_delete(base + "/{batch_id}", cancel_batch)
