"""Inbound (MO) messages in the sandbox's Sinch XMS API.

``GET /xms/v1/{plan}/inbounds`` (newest first, ``to``, date window and
``client_reference`` filters, pages) and ``GET .../inbounds/{id}``. The
messages come from the sandbox control ``POST /_sandbox/inbound`` (or
``RunningSandbox.inbound``): a handset "replies", e.g. STOP; the message is
stored and POSTed to the plan's ``callback_url`` (or the one the control
names), as Sinch posts an ``mo_text``/``mo_binary`` to the callback of the
service plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from bulksend.sandbox.delivery import Callback, callback_allowed, sender_of
from bulksend.sandbox.http import (STATE, bad_format, error, json_response, page_of, paging, plan_or_error, read_json,
                                   window)
from bulksend.sandbox.state import PlanState, SandboxState
from bulksend.sandbox.xms_validate import msisdn_out

OPERATOR_ID = "99999"  # the sandbox's pretend operator (Sinch writes the MCC/MNC of the operator)


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """What the control asks for: a message from a handset to the plan."""

    plan_id: str
    sender: str
    body: str = "STOP"
    to: str | None = None
    kind: str = "mo_text"
    udh: str | None = None
    callback_url: str | None = None
    #: "xms" (an mo_text/mo_binary, listed under /inbounds) or "classic" (an incomingSms callback)
    api: str = "xms"


def _replied_batch(plan: PlanState, number: str) -> dict[str, Any] | None:
    """The newest batch sent to ``number`` (the message a reply answers)."""
    for record in reversed(list(plan.batches.values())):
        if number in record.to:
            return record.data
    return None


def make_inbound(state: SandboxState, ask: InboundRequest) -> tuple[PlanState, dict[str, Any]] | str:
    """Store an inbound message and schedule its callback; a one-line problem if it cannot be."""
    plan = state.plan(ask.plan_id)
    if plan is None:
        return f"unknown plan {ask.plan_id!r}"
    if ask.kind not in ("mo_text", "mo_binary"):
        return f"type: {ask.kind!r} is not mo_text or mo_binary (the sandbox does not do MMS)"
    sender = msisdn_out(ask.sender)
    replied = _replied_batch(plan, sender)
    now = state.clock()
    message: dict[str, Any] = {
        "type": ask.kind, "id": state.new_id("M"), "from": sender,
        "to": msisdn_out(ask.to or (replied or {}).get("from") or ask.plan_id), "body": ask.body,
        "operator_id": OPERATOR_ID, "sent_at": state.clock.iso(now - 1.0), "received_at": state.clock.iso(now),
    }
    if ask.kind == "mo_binary":
        message["udh"] = ask.udh or ""
    if replied is not None and isinstance(replied.get("client_reference"), str):
        message["client_reference"] = replied["client_reference"]
    url = ask.callback_url or plan.plan.callback_url
    if url is not None and not callback_allowed(url):
        return "callback_url: the sandbox only calls back to loopback addresses"
    message["_received"] = state.clock.wall(now)
    plan.inbounds[message["id"]] = message
    return plan, public(message)


def public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_")}


async def control_inbound(request: web.Request) -> web.Response:
    """``POST /_sandbox/inbound {"plan", "from", "body"?, "to"?, "type"?, "udh"?, "callback_url"?}``."""
    data = await read_json(request)
    if isinstance(data, web.Response):
        return data
    if not isinstance(data, dict) or not isinstance(data.get("plan"), str) or not isinstance(data.get("from"), str):
        return bad_format("give at least {\"plan\": ..., \"from\": ...}")
    ask = InboundRequest(plan_id=data["plan"], sender=data["from"], body=str(data.get("body", "STOP")),
                         to=data.get("to"), kind=str(data.get("type", "mo_text")), udh=data.get("udh"),
                         callback_url=data.get("callback_url"), api=str(data.get("api", "xms")))
    made = send_inbound(request.app, ask)
    return bad_format(made) if isinstance(made, str) else json_response(made, 201)


def send_inbound(app: web.Application, ask: InboundRequest) -> dict[str, Any] | str:
    """Make the message and POST it to the callback (signed like delivery callbacks)."""
    if ask.api == "classic":
        return _classic_inbound(app, ask)
    if ask.api != "xms":
        return f"api: {ask.api!r} is not xms or classic"
    made = make_inbound(app[STATE], ask)
    if isinstance(made, str):
        return made
    plan, message = made
    url = ask.callback_url or plan.plan.callback_url
    sender = sender_of(app)
    if url is not None and sender is not None:
        sender.schedule_inbound(url, message, plan.plan.callback_secret)
    return message


def _classic_inbound(app: web.Application, ask: InboundRequest) -> dict[str, Any] | str:
    """Sinch Classic's ``incomingSms`` event, POSTed signed to the plan's callback."""
    from bulksend.sandbox.classic import incoming_sms

    state = app[STATE]
    plan = state.plan(ask.plan_id)
    url = ask.callback_url or (plan.plan.callback_url if plan is not None else None)
    if plan is None or url is None or not callback_allowed(url):
        return "a classic inbound needs a known plan and a loopback callback_url"
    body, headers = incoming_sms(state, plan, url, ask.sender, ask.to or "46700000000", ask.body)
    sender = sender_of(app)
    if sender is not None:
        sender.schedule_raw(Callback(url, body, headers))
    event: dict[str, Any] = orjson.loads(body)
    return event


async def list_inbounds(request: web.Request) -> web.Response:
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    clock = request.app[STATE].clock
    paged, span = paging(request.query), window(request.query, clock.wall(clock()))
    if isinstance(paged, web.Response):
        return paged
    if isinstance(span, web.Response):
        return span
    to = {msisdn_out(n) for n in request.query.get("to", "").split(",") if n}
    ref = request.query.get("client_reference")
    rows = [public(m) for m in reversed(list(plan.inbounds.values()))
            if span[0] <= m["_received"] < span[1] and (not to or m["to"] in to)
            and (ref is None or m.get("client_reference") == ref)]
    return json_response(page_of(rows, *paged, "inbounds"))


async def get_inbound(request: web.Request) -> web.Response:
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    message = plan.inbounds.get(request.match_info["inbound_id"])
    if message is None:
        return error(404, "not_found", "no inbound message with that id")
    return json_response(public(message))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/xms/v1/{plan_id}/inbounds", list_inbounds)
    app.router.add_get("/xms/v1/{plan_id}/inbounds/{inbound_id}", get_inbound)
    app.router.add_post("/_sandbox/inbound", control_inbound)
