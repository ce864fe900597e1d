"""The Sinch XMS batch API, as the sandbox speaks it (the client side is ``providers.xms``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from bulksend.core.numbers import normalize_msisdn
from bulksend.errors import RecipientError
from bulksend.sandbox.delivery import REFUSED_TEXT, attach, callback_allowed, sender_of
from bulksend.sandbox.faults import DroppedConnection, Fault, take_request
from bulksend.sandbox.state import BatchRecord, PlanState, SandboxState, iso_now

MAX_TO = 1000
MAX_BODY = 2000
REPORT_TYPES = ("none", "summary", "full", "per_recipient", "per_recipient_final")
_PARAM_KEY = re.compile(r"^[A-Za-z0-9._-]{1,16}$")

STATE: web.AppKey[SandboxState] = web.AppKey("state", SandboxState)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                        content_type="application/json")


def error(status: int, code: str, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"code": code, "text": text}, status, headers)


def _authorized(request: web.Request, plan: PlanState) -> bool:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return False
    return plan.plan.token is None or auth[7:] == plan.plan.token


def _plan_or_error(request: web.Request) -> PlanState | web.Response:
    state = request.app[STATE]
    plan = state.plan(request.match_info["plan_id"])
    if plan is None:
        return error(404, "not_found", "unknown service plan")
    if not _authorized(request, plan):
        plan.stats.unauthorized += 1
        return error(401, "unauthorized", "missing or invalid bearer token")
    return plan


async def create_batch(request: web.Request) -> web.Response:
    state = request.app[STATE]
    plan = _plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    fault = await take_request(plan, state.rng)
    early = _early_fault(fault, plan, state)
    if early is not None:
        return early
    try:
        data = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        plan.stats.bad_requests += 1
        return error(400, "syntax_invalid_json", "The JSON in the request is invalid")
    checked = validate_batch(data, each_number=not plan.sink)
    if isinstance(checked, web.Response):
        plan.stats.bad_requests += 1
        return checked
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
    if url is None or data.get("delivery_report", "none") == "none":
        return None
    if isinstance(url, str) and callback_allowed(url):
        return None
    state.callbacks.refused += 1
    return _violation(REFUSED_TEXT)


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


def validate_batch(data: Any, *, each_number: bool = True) -> list[str] | web.Response:
    """The normalized ``to`` list, or the 400 Sinch would answer.

    A sink (``each_number=False``) checks the request's shape but not each
    number: it is there to count what a client sends as cheaply as it can,
    and checking 200 numbers a request was a sixth of its time.
    """
    if not isinstance(data, dict):
        return error(400, "syntax_invalid_json", "The request body must be a JSON object")
    to = data.get("to")
    if not isinstance(to, list) or not to:
        return _violation("to: must contain at least one recipient")
    if len(to) > MAX_TO:
        return _violation(f"to: at most {MAX_TO} recipients, got {len(to)}")
    body = data.get("body")
    if not isinstance(body, str):
        return _violation("body: must be a string")
    if len(body) > MAX_BODY:
        return _violation(f"body: at most {MAX_BODY} characters, got {len(body)}")
    report = data.get("delivery_report", "none")
    if report not in REPORT_TYPES:
        return _bad_format(f"delivery_report: {report!r} is not one of {', '.join(REPORT_TYPES)}")
    problem = _check_parameters(data.get("parameters")) or _check_sender(data.get("from"))
    if problem:
        return _bad_format(problem)
    if not each_number:
        return to if all(isinstance(n, str) for n in to) else _bad_format("to: every recipient must be a string")
    return _normalized(to)


def _check_sender(sender: Any) -> str:
    """Numeric senders up to 15 digits, alphanumeric up to 11 characters (GSM)."""
    if sender is None:
        return ""
    if not isinstance(sender, str) or not sender:
        return "from: must be a non-empty string"
    digits = sender.lstrip("+")
    if digits.isdigit():
        return "" if len(digits) <= 15 else f"from: numeric sender over 15 digits: {sender!r}"
    return "" if len(sender) <= 11 else f"from: alphanumeric sender over 11 characters: {sender!r}"


def _normalized(to: list[Any]) -> list[str] | web.Response:
    out = []
    for number in to:
        if not isinstance(number, str):
            return _bad_format(f"to: {number!r} is not a string")
        try:
            out.append(number if number.isdigit() and number[0] != "0" and 7 <= len(number) <= 15
                       else normalize_msisdn(number))
        except RecipientError:
            return _bad_format(f"to: invalid MSISDN {number!r}")
    return out


def _check_parameters(params: Any) -> str:
    if params is None:
        return ""
    if not isinstance(params, dict):
        return "parameters: must be an object"
    for key, values in params.items():
        if not _PARAM_KEY.match(key):
            return f"parameters: invalid key {key!r}"
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return f"parameters.{key}: must map MSISDN or 'default' to a string"
    return ""


def _violation(text: str) -> web.Response:
    return error(400, "syntax_constraint_violation", text)


def _bad_format(text: str) -> web.Response:
    return error(400, "syntax_invalid_parameter_format", text)


def _accept(state: SandboxState, plan: PlanState, data: dict[str, Any], to: list[str], now: float) -> BatchRecord:
    stamp = iso_now()
    record = BatchRecord(
        id=state.new_id(), to=to, accepted_at=now,
        dispatched_at=plan.dispatch_time(len(to), now),
        data={**data, "to": to, "type": data.get("type", "mt_text"), "created_at": stamp,
              "modified_at": stamp, "canceled": False,
              "delivery_report": data.get("delivery_report", "none")},
    )
    plan.record(record)
    return record


def batch_json(record: BatchRecord) -> dict[str, Any]:
    """A batch as Sinch answers it: ``id`` first (as in Sinch's own examples), then the request echoed."""
    answer = {"id": record.id, **record.data}
    answer["id"] = record.id  # a request's own "id" field never wins (and keeps no place of its own)
    answer["canceled"] = record.canceled
    return answer


def _record_or_error(request: web.Request) -> tuple[PlanState, BatchRecord] | web.Response:
    plan = _plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    record = plan.batches.get(request.match_info["batch_id"])
    if record is None:
        return error(404, "not_found", "no batch with that id")
    return plan, record


async def get_batch(request: web.Request) -> web.Response:
    found = _record_or_error(request)
    if isinstance(found, web.Response):
        return found
    return json_response(batch_json(found[1]))


async def cancel_batch(request: web.Request) -> web.Response:
    found = _record_or_error(request)
    if isinstance(found, web.Response):
        return found
    _plan, record = found
    if not record.canceled:
        record.extra["canceled_at"] = request.app[STATE].clock()
    record.canceled = True
    record.data["modified_at"] = iso_now()
    return json_response(batch_json(record))


async def list_batches(request: web.Request) -> web.Response:
    plan = _plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    plan.stats.lookups += 1
    q = request.query
    try:
        page = int(q.get("page", "0"))
        size = min(100, max(1, int(q.get("page_size", "30"))))
    except ValueError:
        return _bad_format("page and page_size must be integers")
    ref = q.get("client_reference")
    ids = plan.by_reference.get(ref, []) if ref is not None else list(plan.batches)
    records = [plan.batches[i] for i in ids]
    chunk = records[page * size:(page + 1) * size]
    return json_response({"page": page, "page_size": len(chunk), "count": len(records),
                          "batches": [batch_json(r) for r in chunk]})


async def dry_run(request: web.Request) -> web.Response:
    plan = _plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    try:
        data = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return error(400, "syntax_invalid_json", "The JSON in the request is invalid")
    checked = validate_batch(data, each_number=not plan.sink)
    if isinstance(checked, web.Response):
        return checked
    try:
        limit = min(1000, int(request.query.get("number_of_recipients", "100")))
    except ValueError:
        return _bad_format("number_of_recipients must be an integer")
    # "true" from curl, "True" from the official Python SDK (requests writes bools that way)
    per = request.query.get("per_recipient", "false").lower() == "true"
    return json_response(dry_run_result(data, checked, limit, per))


def dry_run_result(data: dict[str, Any], to: list[str], limit: int, per: bool) -> dict[str, Any]:
    from bulksend.core.templates import render

    from bulksend.core.segments import count_segments

    params = data.get("parameters") or {}
    rows: list[dict[str, Any]] = []
    total = 0
    for number in to:
        values = {k: v[number] for k, v in params.items() if number in v}
        defaults = {k: v["default"] for k, v in params.items() if "default" in v}
        info = count_segments(render(data["body"], values, defaults))
        total += info.segments
        if per and len(rows) < limit:
            rows.append({"recipient": number, "body": render(data["body"], values, defaults),
                         "number_of_parts": info.segments,
                         "encoding": "text" if info.encoding.value == "GSM-7" else "unicode"})
    out: dict[str, Any] = {"number_of_recipients": len(to), "number_of_messages": total}
    if per:
        out["per_recipient"] = rows
    return out


async def delivery_report(request: web.Request) -> web.Response:
    found = _record_or_error(request)
    if isinstance(found, web.Response):
        return found
    _plan, record = found
    kind = request.query.get("type", "summary")
    if kind not in ("summary", "full"):
        return _bad_format("type must be summary or full")
    return json_response(report_json(record, request.app[STATE].clock(), full=kind == "full"))


def recipient_status(record: BatchRecord, number: str, now: float) -> tuple[int, str]:
    """``(code, status)``: a hook the delivery simulation can replace."""
    hook: Callable[[BatchRecord, str, float], tuple[int, str]] | None = record.extra.get("status_hook")
    if hook is not None:
        return hook(record, number, now)
    if record.canceled and now < record.dispatched_at:
        return 408, "Aborted"
    return (0, "Delivered") if now >= record.dispatched_at else (400, "Queued")


def report_json(record: BatchRecord, now: float, full: bool) -> dict[str, Any]:
    groups: dict[tuple[int, str], list[str]] = {}
    for number in record.to:
        groups.setdefault(recipient_status(record, number, now), []).append(number)
    statuses = []
    for (code, status), numbers in sorted(groups.items()):
        entry: dict[str, Any] = {"code": code, "status": status, "count": len(numbers)}
        if full:
            entry["recipients"] = numbers
        statuses.append(entry)
    out: dict[str, Any] = {"type": "delivery_report_sms", "batch_id": record.id,
                           "total_message_count": len(record.to), "statuses": statuses}
    if record.client_reference is not None:
        out["client_reference"] = record.client_reference
    return out


async def recipient_report(request: web.Request) -> web.Response:
    found = _record_or_error(request)
    if isinstance(found, web.Response):
        return found
    _plan, record = found
    number = request.match_info["msisdn"]
    if number not in record.to:
        return error(404, "not_found", "no such recipient in the batch")
    code, status = recipient_status(record, number, request.app[STATE].clock())
    return json_response({"type": "recipient_delivery_report_sms", "batch_id": record.id,
                          "recipient": number, "code": code, "status": status, "at": iso_now()})


def add_routes(app: web.Application) -> None:
    base = "/xms/v1/{plan_id}/batches"
    app.router.add_post(base, create_batch)
    app.router.add_get(base, list_batches)
    app.router.add_post(base + "/dry_run", dry_run)
    app.router.add_get(base + "/{batch_id}", get_batch)
    app.router.add_delete(base + "/{batch_id}", cancel_batch)
    app.router.add_get(base + "/{batch_id}/delivery_report", delivery_report)
    app.router.add_get(base + "/{batch_id}/delivery_report/{msisdn}", recipient_report)
