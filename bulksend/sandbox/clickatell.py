"""The Clickatell REST API, as the sandbox speaks it (the client side is ``providers.clickatell``).

``POST /clickatell/{plan_id}/rest/message``: a plan's ``base_url`` is
``http://127.0.0.1:PORT/clickatell/PLAN`` (the real one is
``https://api.clickatell.com``). The sandbox checks ``X-Version: 1``, the
bearer token, ``Content-Type`` (JSON or XML) and answers in the format
``Accept`` asks for. Each number gets its own line: numbers that are not
digits-only international fail with 105, numbers ending with the plan's
``reject_suffix`` with 114 (cannot route); all accepted is 202, a mix 207,
none 410 (all unroutable) or 400. A plan with ``credit`` answers 402 once a
request would need more than is left. ``GET .../rest/message/{id}`` tells a
message's status; with a plan ``callback_url`` the final status is POSTed
there (``delivery.CallbackSender``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import orjson
from aiohttp import web

from bulksend.providers._xml import UnsafeXml, parse_untrusted
from bulksend.sandbox.delivery import sender_of
from bulksend.sandbox.fates import CLICKATELL_STATUS, STOPPED, attach, clickatell_stopped
from bulksend.sandbox.faults import TAKEN_UNANSWERED, DroppedConnection, Fault, take_request
from bulksend.sandbox.http import STATE
from bulksend.sandbox.state import BatchRecord, PlanState, SandboxState

MAX_TO = 200
_FORMATS = {"application/json": "json", "application/xml": "xml"}


def _accept_format(request: web.Request) -> str | None:
    accept = request.headers.get("Accept", "").split(";")[0].strip().lower()
    if not accept or accept == "*/*":
        return "json"
    return _FORMATS.get(accept)


def respond(data: dict[str, Any], status: int, fmt: str, headers: dict[str, str] | None = None) -> web.Response:
    if fmt == "xml":
        return web.Response(body=to_xml(data), status=status, headers=headers, content_type="application/xml")
    return web.Response(body=orjson.dumps(data), status=status, headers=headers, content_type="application/json")


def to_xml(data: dict[str, Any]) -> bytes:
    root = ET.Element("response")
    _fill(root, data)
    raw: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + raw


def _fill(parent: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list):
                for element in item:
                    _fill(ET.SubElement(parent, key), element)
            else:
                _fill(ET.SubElement(parent, key), item)
    elif isinstance(value, bool):
        parent.text = "true" if value else "false"
    elif value is not None:
        parent.text = str(value)


def error(status: int, code: str, description: str, fmt: str = "json",
          headers: dict[str, str] | None = None) -> web.Response:
    return respond({"error": {"code": code, "description": description}}, status, fmt, headers)


def _authorized(request: web.Request, plan: PlanState) -> bool:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return False
    return plan.plan.token is None or auth[7:] == plan.plan.token


def _checked(request: web.Request) -> tuple[PlanState, str] | web.Response:
    plan = request.app[STATE].plan(request.match_info["plan_id"])
    fmt = _accept_format(request)
    if fmt is None:
        return error(406, "101", "Accept must be application/json, application/xml or */*")
    if plan is None:
        return error(404, "404", "unknown plan", fmt)
    if not _authorized(request, plan):
        plan.stats.unauthorized += 1
        return error(401, "001", "Authentication failed", fmt)
    if request.headers.get("X-Version", "").strip() != "1":
        plan.stats.bad_requests += 1
        return error(400, "101", "Invalid or missing parameters: X-Version must be 1", fmt)
    return plan, fmt


def parse_request(body: bytes, content_type: str) -> dict[str, Any] | str:
    """``{"text", "to", ...}`` from a JSON or XML body, or what is wrong with it."""
    if content_type == "application/xml":
        try:
            root = parse_untrusted(body)
        except UnsafeXml as exc:
            return str(exc)
        data: dict[str, Any] = {"text": root.findtext("text"), "to": [e.text or "" for e in root.iter("to")]}
        if root.find("from") is not None:
            data["from"] = root.findtext("from")
        return data
    if content_type != "application/json":
        return "Content-Type must be application/json or application/xml"
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "the JSON body is invalid"
    return parsed if isinstance(parsed, dict) else "the body must be a JSON object"


def _number_error(number: Any, suffix: str) -> tuple[str, str] | None:
    if not isinstance(number, str) or not (number.isdigit() and number.isascii()) \
            or number[0] == "0" or not 7 <= len(number) <= 15:
        return "105", "Invalid destination address"
    if suffix and number.endswith(suffix):
        return "114", "Cannot route message"
    return None


async def send_message(request: web.Request) -> web.Response:
    state = request.app[STATE]
    checked = _checked(request)
    if isinstance(checked, web.Response):
        return checked
    plan, fmt = checked
    fault = await take_request(plan, state.rng)
    early = _fault_answer(fault, plan, state, fmt)
    if early is not None:
        return early
    data = parse_request(await request.read(), request.content_type)
    problem = data if isinstance(data, str) else _validate(data)
    if problem:
        plan.stats.bad_requests += 1
        return error(400, "101", f"Invalid or missing parameters: {problem}", fmt)
    assert isinstance(data, dict)
    return _answer(request, state, plan, data, fault, fmt)


def _validate(data: dict[str, Any]) -> str:
    text, to = data.get("text"), data.get("to")
    if not isinstance(text, str) or not text:
        return "text is required"
    if not isinstance(to, list) or not to:
        return "to must list at least one number"
    if len(to) > MAX_TO:
        return f"at most {MAX_TO} numbers per request, got {len(to)}"
    return ""


def _answer(request: web.Request, state: SandboxState, plan: PlanState, data: dict[str, Any],
            fault: Fault, fmt: str) -> web.Response:
    lines = [(n, _number_error(n, plan.plan.reject_suffix)) for n in data["to"]]
    good = [str(n) for n, err in lines if err is None]
    if plan.credit is not None and len(good) > plan.credit:
        return error(402, "301", "No credit left", fmt)
    now = state.clock()
    wait = plan.over_limit(len(good), now) if good else None
    if wait is not None:
        plan.stats.rate_limited += 1
        return error(429, "429", "Rate limit exceeded", fmt, {"Retry-After": f"{max(wait, 0.001):.3f}"})
    ids = _record(request, state, plan, data, good, now)
    messages = []
    for number, err in lines:
        if err is None:
            messages.append({"accepted": True, "to": number, "apiMessageId": ids[number]})
        else:
            messages.append({"accepted": False, "to": number, "error": {"code": err[0], "description": err[1]}})
    if fault in TAKEN_UNANSWERED and good:
        plan.stats.accept_drops += 1
        raise DroppedConnection()
    status = 202 if len(good) == len(lines) else 207 if good else \
        410 if all(err is not None and err[0] == "114" for _n, err in lines) else 400
    return respond({"data": {"message": messages}}, status, fmt)


def _record(request: web.Request, state: SandboxState, plan: PlanState, data: dict[str, Any],
            good: list[str], now: float) -> dict[str, str]:
    """Take the accepted numbers: one record per request, one id per number."""
    if not good:
        return {}
    if plan.credit is not None:
        plan.credit -= len(good)
    record = BatchRecord(id=state.new_id(), to=good, accepted_at=now,
                         dispatched_at=plan.dispatch_time(len(good), now),
                         data={"text": data["text"], "from": data.get("from")})
    plan.record(record)
    fates = attach(state, record)
    ids = {number: state.new_id() for number in good}
    if not plan.sink:
        for number, message_id in ids.items():
            plan.messages[message_id] = (record.id, number)
    sender = sender_of(request.app)
    if sender is not None and plan.plan.callback_url:
        items = [(record, ids[n], n) for n in good]
        sender.schedule_messages(items, fates, plan.plan.callback_url, plan.plan.callback_secret)
    return ids


def _fault_answer(fault: Fault, plan: PlanState, state: SandboxState, fmt: str) -> web.Response | None:
    if fault is Fault.SERVER_ERROR:
        plan.stats.server_errors += 1
        return error(503, "503", "Service unavailable (injected)", fmt)
    if fault is Fault.RATE_LIMIT:
        plan.stats.rate_limited += 1
        return error(429, "429", "Rate limit exceeded (injected)", fmt,
                     {"Retry-After": f"{plan.faults.retry_after:g}"})
    if fault is Fault.DROP:
        plan.stats.drops += 1
        raise DroppedConnection()
    return None


async def message_status(request: web.Request) -> web.Response:
    checked = _checked(request)
    if isinstance(checked, web.Response):
        return checked
    plan, fmt = checked
    plan.stats.lookups += 1
    message_id = request.match_info["message_id"]
    found = plan.messages.get(message_id)
    record = plan.batches.get(found[0]) if found else None
    if found is None or record is None:
        return error(404, "116", "Invalid or unknown message ID", fmt)
    number = found[1]
    fates = record.extra["status_hook"]
    now = request.app[STATE].clock()
    code, status = fates.status(record, number, now, message_id)
    if clickatell_stopped(record, message_id, min(now, fates.final_at(record, number, message_id))):
        value, text = STOPPED
    elif status in CLICKATELL_STATUS:
        value, text = CLICKATELL_STATUS[status]
    elif status == "Cancelled":
        value, text = "006", "User cancelled message delivery"
    else:
        value, text = ("002", "Message queued") if status == "Queued" else ("003", "Delivered to gateway")
    return respond({"data": {"apiMessageId": message_id, "messageStatus": value, "description": text,
                             "charge": 1}}, 200, fmt)


def add_routes(app: web.Application) -> None:
    base = "/clickatell/{plan_id}/rest/message"
    app.router.add_post(base, send_message)
    app.router.add_get(base + "/{message_id}", message_status)
