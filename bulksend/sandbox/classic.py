"""The Sinch Classic messaging API, as the sandbox speaks it (the client side is ``providers.classic``).

``POST /classic/{plan_id}/v1/sms/{number}`` (also ``/v1/Sms/{number}``): a
plan's ``base_url`` is ``http://127.0.0.1:PORT/classic/PLAN`` (the real one is
``https://messagingapi.sinch.com``). Both authentications are checked: Basic
(``application\\{key}:{secret}``) and the signed request, recomputed over the
raw request path, body and ``x-timestamp`` (15 minutes of skew allowed). A bad
or missing signature is 401 with ``errorCode`` 40100, another scheme 403
with 40301. A plan without a secret uses the secret ``sandbox``, which is what
a loopback client uses when its ``secret_env`` is not set.

Errors are ``{"errorCode", "message", "reference"}``: 40001 for a number
that is not valid (or ends with the plan's ``reject_suffix``), 40002/40003
for a missing or invalid body, 40200 once the plan's ``credit`` is spent,
50000 for an injected server error. ``GET .../v1/message/status/{id}`` (and
``/v1/Sms/{id}``) answers Pending, Successful, Faulted or Unknown from the
same fates as every other sandbox report.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from bulksend.providers.signing import iso_timestamp, sign_classic, verify_basic_classic, verify_classic
from bulksend.sandbox.fates import attach
from bulksend.sandbox.faults import TAKEN_UNANSWERED, DroppedConnection, Fault, take_request
from bulksend.sandbox.http import STATE
from bulksend.sandbox.state import BatchRecord, PlanState, SandboxState

DEFAULT_SECRET = "sandbox"
_FINAL = {"Delivered": "Successful", "Failed": "Faulted", "Expired": "Faulted", "Cancelled": "Faulted"}


def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"errorCode": code, "message": message, "reference": f"sbx-{code}"}
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type="application/json")


def _ok(data: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


async def _checked(request: web.Request, body: bytes) -> PlanState | web.Response:
    plan = request.app[STATE].plan(request.match_info["plan_id"])
    if plan is None:
        return error(404, 40400, "unknown application")
    auth = request.headers.get("Authorization", "")
    scheme = auth.partition(" ")[0].lower()
    secret = plan.plan.secret or DEFAULT_SECRET
    if scheme == "basic":
        good = verify_basic_classic(request.headers, plan.plan.key, secret)
    elif scheme == "application":
        good = verify_classic(request.method, request.rel_url.raw_path, body, request.headers,
                              plan.plan.key, secret, request.app[STATE].clock.real_epoch())
    elif not auth:
        good = False
    else:
        plan.stats.unauthorized += 1
        return error(403, 40301, "Invalid authorization scheme for calling the method")
    if not good:
        plan.stats.unauthorized += 1
        return error(401, 40100, "Illegal authorization header")
    return plan


async def send_sms(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.read()
    plan = await _checked(request, body)
    if isinstance(plan, web.Response):
        return plan
    fault = await take_request(plan, state.rng)
    early = _fault_answer(fault, plan, state)
    if early is not None:
        return early
    number = request.match_info["number"].strip()
    number = number[1:] if number.startswith("+") else number
    problem = _problem(body, number, plan)
    if problem is not None:
        plan.stats.bad_requests += 1
        return problem
    if plan.credit is not None and plan.credit < 1:
        return error(402, 40200, "There is not enough funds to send the message")
    now = state.clock()
    wait = plan.over_limit(1, now)
    if wait is not None:
        plan.stats.rate_limited += 1
        return error(429, 42900, "Too many requests", {"Retry-After": f"{max(wait, 0.001):.3f}"})
    message_id = _accept(state, plan, number, orjson.loads(body), now)
    if fault in TAKEN_UNANSWERED:
        plan.stats.accept_drops += 1
        raise DroppedConnection()
    return _ok({"messageId": message_id})


def _problem(body: bytes, number: str, plan: PlanState) -> web.Response | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return error(400, 40003, "Invalid request: the body is not JSON")
    if not isinstance(data, dict):
        return error(400, 40003, "Invalid request: the body must be an object")
    if not isinstance(data.get("message"), str) or not data["message"]:
        return error(400, 40002, "Missing parameter: message")
    if "from" in data and not isinstance(data["from"], str):
        return error(400, 40001, "Parameter validation: from")
    if not (number.isdigit() and number.isascii()) or number[0] == "0" or not 7 <= len(number) <= 15:
        return error(400, 40001, "Parameter validation: number")
    suffix = plan.plan.reject_suffix
    if suffix and number.endswith(suffix):
        return error(400, 40001, "Parameter validation: the number cannot be reached")
    return None


def _accept(state: SandboxState, plan: PlanState, number: str, data: dict[str, Any], now: float) -> int:
    message_id = int(state.new_id()[5:])
    if plan.credit is not None:
        plan.credit -= 1
    record = BatchRecord(id=str(message_id), to=[number], accepted_at=now,
                         dispatched_at=plan.dispatch_time(1, now),
                         data={"message": data["message"], "from": data.get("from")})
    plan.record(record)
    attach(state, record)
    return message_id


def _fault_answer(fault: Fault, plan: PlanState, state: SandboxState) -> web.Response | None:
    if fault is Fault.SERVER_ERROR:
        plan.stats.server_errors += 1
        return error(state.rng.choice((500, 503)), 50000, "Internal error (injected)")
    if fault is Fault.RATE_LIMIT:
        plan.stats.rate_limited += 1
        return error(429, 42900, "Too many requests (injected)", {"Retry-After": f"{plan.faults.retry_after:g}"})
    if fault is Fault.DROP:
        plan.stats.drops += 1
        raise DroppedConnection()
    return None


async def message_status(request: web.Request) -> web.Response:
    plan = await _checked(request, b"")
    if isinstance(plan, web.Response):
        return plan
    plan.stats.lookups += 1
    record = plan.batches.get(request.match_info["message_id"])
    if record is None:
        return _ok({"status": "Unknown"})
    hook = record.extra["status_hook"]
    _code, status = hook(record, record.to[0], request.app[STATE].clock())
    return _ok({"status": _FINAL.get(status, "Pending")})


def incoming_sms(state: SandboxState, plan: PlanState, url: str, sender: str, to: str,
                 message: str) -> tuple[bytes, dict[str, str]]:
    """The ``incomingSms`` callback, signed with the application key and secret
    the way Sinch signs callbacks (the same scheme as a signed request)."""
    stamp = iso_timestamp(state.clock.wall(state.clock()))
    event = {"event": "incomingSms", "to": {"type": "number", "endpoint": "+" + to.lstrip("+")},
             "from": {"type": "number", "endpoint": "+" + sender.lstrip("+")},
             "message": message, "timestamp": stamp, "version": 1}
    body = orjson.dumps(event)
    headers = sign_classic("POST", urlsplit(url).path or "/", body, "application/json",
                           plan.plan.key or "sandbox", plan.plan.secret or DEFAULT_SECRET, stamp)
    return body, headers


def add_routes(app: web.Application) -> None:
    base = "/classic/{plan_id}/v1"
    app.router.add_post(base + "/sms/{number}", send_sms)
    app.router.add_post(base + "/Sms/{number}", send_sms)
    app.router.add_get(base + "/message/status/{message_id}", message_status)
    app.router.add_get(base + "/Sms/{message_id}", message_status)
