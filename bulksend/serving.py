"""Serving an aiohttp.web app on loopback inside the running event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL. ``port=0`` picks a free one."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
