"""What every Sinch XMS handler of the sandbox shares: the app's state key,
JSON answers, Sinch's error shape, the plan and bearer-token check, and the
middleware that turns any other error (unknown route, wrong method, a bug)
into Sinch's ``{"code", "text"}`` JSON instead of aiohttp's plain text."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from bulksend.sandbox.clock import parse_iso
from bulksend.sandbox.faults import DroppedConnection
from bulksend.sandbox.state import BatchRecord, PlanState, SandboxState

log = logging.getLogger("bulksend.sandbox")

DAY = 24 * 3600.0
LIST_WINDOW = 14 * DAY  # Sinch lists at most 14 days back

STATE: web.AppKey[SandboxState] = web.AppKey("state", SandboxState)

#: Sinch's codes for statuses aiohttp raises itself
_CODES = {400: "syntax_invalid_parameter_format", 401: "unauthorized", 403: "forbidden",
          404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
          413: "syntax_constraint_violation", 415: "unsupported_media_type", 429: "too_many_requests"}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                        content_type="application/json")


def error(status: int, code: str, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"code": code, "text": text}, status, headers)


def violation(text: str) -> web.Response:
    return error(400, "syntax_constraint_violation", text)


def bad_format(text: str) -> web.Response:
    return error(400, "syntax_invalid_parameter_format", text)


def _authorized(request: web.Request, plan: PlanState) -> bool:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return False
    return plan.plan.token is None or auth[7:] == plan.plan.token


def plan_or_error(request: web.Request) -> PlanState | web.Response:
    state = request.app[STATE]
    plan = state.plan(request.match_info["plan_id"])
    if plan is None:
        return error(404, "not_found", "unknown service plan")
    if not _authorized(request, plan):
        plan.stats.unauthorized += 1
        return error(401, "unauthorized", "missing or invalid bearer token")
    return plan


def record_or_error(request: web.Request) -> tuple[PlanState, BatchRecord] | web.Response:
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    record = plan.batches.get(request.match_info["batch_id"])
    if record is None:
        return error(404, "not_found", "no batch with that id")
    return plan, record


def window(query: Any, now_epoch: float) -> tuple[float, float] | web.Response:
    """``start_date``/``end_date``: default the last 24 hours, never more than 14 days back."""
    try:
        start = parse_iso(query["start_date"]) if "start_date" in query else now_epoch - DAY
        end = parse_iso(query["end_date"]) if "end_date" in query else now_epoch + 1.0
    except ValueError:
        return bad_format("start_date and end_date must be ISO-8601 timestamps")
    return max(start, now_epoch - LIST_WINDOW), end


def paging(query: Any) -> tuple[int, int] | web.Response:
    try:
        page = int(query.get("page", "0"))
        size = min(100, max(1, int(query.get("page_size", "30"))))
    except ValueError:
        return bad_format("page and page_size must be integers")
    return (page, size) if page >= 0 else bad_format("page must be 0 or more")


def page_of(items: list[Any], page: int, size: int, name: str) -> dict[str, Any]:
    """Sinch's page: ``page_size`` is the number of entries on this page, ``count`` all that match."""
    chunk = items[page * size:(page + 1) * size]
    return {"page": page, "page_size": len(chunk), "count": len(items), name: chunk}


async def read_json(request: web.Request) -> Any | web.Response:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return error(400, "syntax_invalid_json", "The JSON in the request is invalid")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405/413 (and any bug's 500) as Sinch's JSON error shape."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return error(exc.status, _CODES.get(exc.status, "error"), exc.reason, headers)
    except DroppedConnection:
        raise
    except Exception:
        log.exception("sandbox handler failed")
        return error(500, "internal_error", "Internal error in the sandbox")
