"""Sandbox controls a test drives, beside the provider APIs.

``GET /_sandbox/clock`` tells the sandbox's time; ``POST /_sandbox/clock
{"advance": seconds}`` moves it forward (scheduled batches come due, callbacks
due by then are sent, list windows move) so a test can act "tomorrow".
``POST /_sandbox/inbound`` is in ``inbounds``.
"""

from __future__ import annotations

from aiohttp import web

from bulksend.sandbox.http import STATE, bad_format, json_response, read_json


def _clock_json(request: web.Request) -> web.Response:
    clock = request.app[STATE].clock
    return json_response({"now": clock.iso(), "offset": clock.offset})


async def get_clock(request: web.Request) -> web.Response:
    return _clock_json(request)


async def advance_clock(request: web.Request) -> web.Response:
    data = await read_json(request)
    if isinstance(data, web.Response):
        return data
    seconds = data.get("advance") if isinstance(data, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        return bad_format("give {\"advance\": seconds} with seconds >= 0 (the clock only moves forward)")
    request.app[STATE].clock.advance(float(seconds))
    return _clock_json(request)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/clock", get_clock)
    app.router.add_post("/_sandbox/clock", advance_clock)
