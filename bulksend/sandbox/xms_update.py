"""Changing a Sinch XMS batch in the sandbox: update (``POST /batches/{id}``:
the fields given, ``to_add``/``to_remove``) and replace (``PUT``: a whole new
batch under the same id and creation time). A batch not yet dispatched (its
``send_at`` still ahead) is rescheduled by a new ``send_at``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bulksend.sandbox.http import STATE, error, json_response, read_json, record_or_error, violation
from bulksend.sandbox.state import BatchRecord, PlanState, SandboxState
from bulksend.sandbox.xms import _SERVER_FIELDS, _batch_data, _dispatch_at, batch_json
from bulksend.sandbox.xms_validate import MAX_TO, check_batch, echo_to, normalized_to, validate_batch


async def replace_batch(request: web.Request) -> web.Response:
    """``PUT``: a whole new batch under the same id and creation time."""
    found = record_or_error(request)
    if isinstance(found, web.Response):
        return found
    plan, record = found
    data = await read_json(request)
    to = data if isinstance(data, web.Response) else validate_batch(data, plan.groups)
    if isinstance(to, web.Response):
        return to
    assert isinstance(data, dict)
    _rewrite(request.app[STATE], plan, record, data, to)
    return json_response(batch_json(record))


async def update_batch(request: web.Request) -> web.Response:
    """``POST``: change the fields given; ``to_add``/``to_remove`` change the recipients."""
    found = record_or_error(request)
    if isinstance(found, web.Response):
        return found
    plan, record = found
    changes = await read_json(request)
    if isinstance(changes, web.Response):
        return changes
    if not isinstance(changes, dict):
        return error(400, "syntax_invalid_json", "The request body must be a JSON object")
    problem = check_batch(changes, partial=True)
    if isinstance(problem, web.Response):
        return problem
    to, shown = list(record.to), list(record.data["to"])
    for name in ("to_add", "to_remove"):
        if name in changes:
            more = normalized_to(changes[name], plan.groups, partial_name=name)
            if isinstance(more, web.Response):
                return more
            named = echo_to(changes[name])
            if name == "to_add":
                to, shown = to + [n for n in more if n not in to], shown + [n for n in named if n not in shown]
            else:
                to, shown = [n for n in to if n not in more], [n for n in shown if n not in named and n not in more]
    if not to or len(to) > MAX_TO:
        return violation(f"to: a batch needs 1 to {MAX_TO} recipients")
    merged = {k: v for k, v in record.data.items() if k not in _SERVER_FIELDS}
    if "send_at" in changes and "expire_at" not in changes:
        merged.pop("expire_at", None)  # the default moves with send_at
    merged.update((k, v) for k, v in changes.items() if k not in ("to_add", "to_remove"))
    merged["to"] = shown
    problem = check_batch({**merged, "to": to})
    if isinstance(problem, web.Response):
        return problem
    plan.received.update(n for n in to if n not in record.to)
    _rewrite(request.app[STATE], plan, record, merged, to)
    return json_response(batch_json(record))


def _rewrite(state: SandboxState, plan: PlanState, record: BatchRecord, data: dict[str, Any], to: list[str]) -> None:
    old_ref = record.client_reference
    body = _batch_data(state, data, to, record.created)
    now = state.clock()
    record.to = to
    record.data = {**body, "created_at": record.data["created_at"], "modified_at": state.clock.iso(now),
                   "canceled": record.canceled}
    if now < record.dispatched_at:
        record.dispatched_at = _dispatch_at(plan, body, len(to), now, state.clock.at)
    if record.client_reference != old_ref:
        if old_ref is not None:
            plan.by_reference[old_ref].remove(record.id)
        if record.client_reference is not None:
            plan.by_reference.setdefault(record.client_reference, []).append(record.id)


def add_routes(app: web.Application) -> None:
    base = "/xms/v1/{plan_id}/batches"
    app.router.add_post(base + "/{batch_id}", update_batch)
    app.router.add_put(base + "/{batch_id}", replace_batch)
