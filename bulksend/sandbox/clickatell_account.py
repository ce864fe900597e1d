"""The rest of Clickatell's REST API v1 that its client libraries call
(``arcturial/clickatell-python`` ``clickatell/rest``, ``arcturial/clickatell-node``
``test/api/rest.js``): stop a message, the account balance, route coverage.

- ``DELETE .../rest/message/{id}``: a message not yet final is stopped: its
  status becomes ``006`` "User cancelled message delivery" and its callback says
  so; a final one keeps its status. Answers ``{"data": {"apiMessageId",
  "messageStatus", "description"}}``.
- ``GET .../rest/account/balance``: ``{"data": {"balance": n}}``, the plan's
  ``credit`` left (a plan without a credit limit answers 1000000).
- ``GET .../rest/coverage/{msisdn}``: ``{"data": {"routable", "destination",
  "minimumCharge"}}``; numbers ending with the plan's ``reject_suffix`` are not
  routable, a number that is not international digits is 400 with code 105.
"""

from __future__ import annotations

from aiohttp import web

from bulksend.sandbox.clickatell import _checked, _number_error, error, respond
from bulksend.sandbox.fates import CLICKATELL_STATUS, STOPPED, clickatell_stopped
from bulksend.sandbox.http import STATE

UNLIMITED = 1_000_000


async def stop_message(request: web.Request) -> web.Response:
    checked = _checked(request)
    if isinstance(checked, web.Response):
        return checked
    plan, fmt = checked
    message_id = request.match_info["message_id"]
    found = plan.messages.get(message_id)
    record = plan.batches.get(found[0]) if found else None
    if found is None or record is None:
        return error(404, "116", "Invalid or unknown message ID", fmt)
    fates = record.extra["status_hook"]
    now = request.app[STATE].clock()
    final_at = fates.final_at(record, found[1], message_id)
    if now < final_at and not clickatell_stopped(record, message_id, now):
        record.extra.setdefault("stopped", {})[message_id] = now
    if clickatell_stopped(record, message_id, final_at):
        value, text = STOPPED
    else:
        value, text = CLICKATELL_STATUS[fates.fate(message_id, found[1]).status]
    return respond({"data": {"apiMessageId": message_id, "messageStatus": value, "description": text}}, 200, fmt)


async def balance(request: web.Request) -> web.Response:
    checked = _checked(request)
    if isinstance(checked, web.Response):
        return checked
    plan, fmt = checked
    return respond({"data": {"balance": UNLIMITED if plan.credit is None else plan.credit}}, 200, fmt)


async def coverage(request: web.Request) -> web.Response:
    checked = _checked(request)
    if isinstance(checked, web.Response):
        return checked
    plan, fmt = checked
    number = request.match_info["msisdn"]
    problem = _number_error(number, plan.plan.reject_suffix)
    if problem is not None and problem[0] == "105":
        return error(400, *problem, fmt)
    return respond({"data": {"routable": problem is None, "destination": number, "minimumCharge": 1}}, 200, fmt)


def add_routes(app: web.Application) -> None:
    base = "/clickatell/{plan_id}/rest"
    app.router.add_delete(base + "/message/{message_id}", stop_message)
    app.router.add_get(base + "/account/balance", balance)
    app.router.add_get(base + "/coverage/{msisdn}", coverage)
