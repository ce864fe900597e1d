"""Sinch XMS groups in the sandbox: in-memory CRUD and members, per plan.

A group's id can stand in a batch's ``to`` (``xms_validate.normalized_to``
expands it to the members; an unknown id is Sinch's 403 ``unknown_group``).
``child_groups`` and ``auto_update`` are stored and echoed, not acted on.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bulksend.sandbox.http import STATE, bad_format, error, json_response, page_of, paging, plan_or_error, read_json
from bulksend.sandbox.state import PlanState
from bulksend.sandbox.xms_validate import msisdn_out, normalized_to

MAX_NAME = 20  # Sinch docs: "name: max 20 characters"
_STORED = ("name", "child_groups", "auto_update")


def _public(group: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in group.items() if k != "members" and v is not None}  # Sinch omits nulls
    out["size"] = len(group["members"])
    return out


def _members(values: Any, plan: PlanState, name: str) -> list[str] | web.Response:
    if values is None:
        return []
    return normalized_to(values, {}, partial_name=name) if values else []


def _check(data: Any) -> str:
    if not isinstance(data, dict):
        return "the request body must be a JSON object"
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        return f"name: a string of at most {MAX_NAME} characters"
    children = data.get("child_groups")
    if children is not None and (not isinstance(children, list) or not all(isinstance(c, str) for c in children)):
        return "child_groups: a list of group ids"
    return ""


def _group_or_error(request: web.Request) -> tuple[PlanState, dict[str, Any]] | web.Response:
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    group = plan.groups.get(request.match_info["group_id"])
    if group is None:
        return error(404, "not_found", "no group with that id")
    return plan, group


def _fill(group: dict[str, Any], data: dict[str, Any], members: list[str]) -> None:
    for key in _STORED:
        if key in data:
            group[key] = data[key]
    group["members"] = list(dict.fromkeys(members))


async def create_group(request: web.Request) -> web.Response:
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    data = await read_json(request)
    if isinstance(data, web.Response):
        return data
    problem = _check(data)
    members = _members(data.get("members"), plan, "members") if not problem else []
    if problem or isinstance(members, web.Response):
        return members if isinstance(members, web.Response) else bad_format(problem)
    state = request.app[STATE]
    stamp = state.clock.iso()
    group: dict[str, Any] = {"id": state.new_id("G"), "created_at": stamp, "modified_at": stamp}
    _fill(group, data, members)
    plan.groups[group["id"]] = group
    return json_response(_public(group), 201)


async def list_groups(request: web.Request) -> web.Response:
    plan = plan_or_error(request)
    if isinstance(plan, web.Response):
        return plan
    paged = paging(request.query)
    if isinstance(paged, web.Response):
        return paged
    return json_response(page_of([_public(g) for g in plan.groups.values()], *paged, "groups"))


async def get_group(request: web.Request) -> web.Response:
    found = _group_or_error(request)
    return found if isinstance(found, web.Response) else json_response(_public(found[1]))


async def replace_group(request: web.Request) -> web.Response:
    """``PUT``: the group becomes what the request says (members included)."""
    found = _group_or_error(request)
    if isinstance(found, web.Response):
        return found
    plan, group = found
    data = await read_json(request)
    if isinstance(data, web.Response):
        return data
    problem = _check(data)
    members = _members(data.get("members"), plan, "members") if not problem else []
    if problem or isinstance(members, web.Response):
        return members if isinstance(members, web.Response) else bad_format(problem)
    group.pop("name", None)  # child_groups stay unless given (Sinch's mock in the Python SDK's e2e tests)
    group.pop("auto_update", None)
    _fill(group, data, members)
    group["modified_at"] = request.app[STATE].clock.iso()
    return json_response(_public(group))


async def update_group(request: web.Request) -> web.Response:
    """``POST``: ``add``/``remove`` members, ``add_from_group``/``remove_from_group``, a new name."""
    found = _group_or_error(request)
    if isinstance(found, web.Response):
        return found
    plan, group = found
    data = await read_json(request)
    if isinstance(data, web.Response):
        return data
    problem = _check(data)
    if problem:
        return bad_format(problem)
    members = list(group["members"])
    for key in ("add", "remove", "add_from_group", "remove_from_group"):
        if data.get(key) is None:  # the SDK writes every field, null for those not given
            continue
        more = _other_members(plan, data[key]) if key.endswith("_group") else _members(data[key], plan, key)
        if isinstance(more, web.Response):
            return more
        members = members + more if key.startswith("add") else [m for m in members if m not in more]
    _fill(group, {k: v for k, v in data.items() if k in _STORED}, members)
    group["modified_at"] = request.app[STATE].clock.iso()
    return json_response(_public(group))


def _other_members(plan: PlanState, group_id: Any) -> list[str] | web.Response:
    other = plan.groups.get(group_id) if isinstance(group_id, str) else None
    if other is None:
        return error(403, "unknown_group", f"unknown group {group_id!r}")
    return list(other["members"])


async def delete_group(request: web.Request) -> web.Response:
    found = _group_or_error(request)
    if isinstance(found, web.Response):
        return found
    plan, group = found
    del plan.groups[group["id"]]
    return web.Response(status=204)


async def group_members(request: web.Request) -> web.Response:
    found = _group_or_error(request)
    return found if isinstance(found, web.Response) else json_response([msisdn_out(m) for m in found[1]["members"]])


def add_routes(app: web.Application) -> None:
    base = "/xms/v1/{plan_id}/groups"
    app.router.add_post(base, create_group)
    app.router.add_get(base, list_groups)
    app.router.add_get(base + "/{group_id}", get_group)
    app.router.add_put(base + "/{group_id}", replace_group)
    app.router.add_post(base + "/{group_id}", update_group)
    app.router.add_delete(base + "/{group_id}", delete_group)
    app.router.add_get(base + "/{group_id}/members", group_members)
